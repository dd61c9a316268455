//! Runs a set of stages on rayon's pool in dependency order: a stage starts as soon as all its
//! selected upstream stages have finished, up to `jobs` at a time. A failure skips everything
//! downstream of it and lets independent stages finish.

use crate::dag::Dag;
use std::collections::BTreeSet;
use std::sync::mpsc;

/// How one stage ended.
#[derive(Debug)]
pub enum Finished<T, E> {
    /// Its job returned.
    Done(Result<T, E>),
    /// Not started because this upstream stage failed.
    Skipped(String),
}

/// Runs `job` for every stage in `selected`, respecting edges between selected stages, and
/// returns the results in the order the stages finished.
pub fn run<T, E, F>(
    dag: &Dag,
    selected: &BTreeSet<usize>,
    jobs: usize,
    job: F,
) -> Vec<(usize, Finished<T, E>)>
where
    T: Send,
    E: Send,
    F: Fn(usize) -> Result<T, E> + Sync,
{
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool,
        Err(_) => return sequential(dag, selected, &job),
    };
    let mut pending: Vec<usize> = vec![0; dag.stages().len()];
    for &i in selected {
        pending[i] = dag
            .upstream(i)
            .iter()
            .filter(|u| selected.contains(u))
            .count();
    }
    let rank = rank_of(dag);
    let mut ready: BTreeSet<(usize, usize)> = selected
        .iter()
        .filter(|&&i| pending[i] == 0)
        .map(|&i| (rank[i], i))
        .collect();
    let mut results = Vec::with_capacity(selected.len());
    let mut finished: BTreeSet<usize> = BTreeSet::new();
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();
    let job = &job;
    pool.in_place_scope(|scope| {
        let mut running = 0usize;
        loop {
            while let Some((_, i)) = ready.pop_first() {
                let tx = tx.clone();
                running += 1;
                scope.spawn(move |_| {
                    let _ = tx.send((i, job(i)));
                });
            }
            if running == 0 {
                break;
            }
            let Ok((i, result)) = rx.recv() else { break };
            running -= 1;
            finished.insert(i);
            let failed = result.is_err();
            results.push((i, Finished::Done(result)));
            if failed {
                for k in dag.with_downstream(&[i]) {
                    if k != i && selected.contains(&k) && finished.insert(k) {
                        results.push((k, Finished::Skipped(dag.stage(i).name.clone())));
                    }
                }
                continue;
            }
            for &k in dag.downstream(i) {
                if selected.contains(&k) && !finished.contains(&k) {
                    pending[k] -= 1;
                    if pending[k] == 0 {
                        ready.insert((rank[k], k));
                    }
                }
            }
        }
    });
    results
}

/// Position of each stage in the topological order: ready stages start in that order.
fn rank_of(dag: &Dag) -> Vec<usize> {
    let mut rank = vec![0; dag.stages().len()];
    for (r, &i) in dag.order().iter().enumerate() {
        rank[i] = r;
    }
    rank
}

/// Fallback when no thread pool can be built: the same semantics, one stage at a time.
fn sequential<T, E>(
    dag: &Dag,
    selected: &BTreeSet<usize>,
    job: &dyn Fn(usize) -> Result<T, E>,
) -> Vec<(usize, Finished<T, E>)> {
    let mut results = Vec::new();
    let mut failed_by: Vec<Option<String>> = vec![None; dag.stages().len()];
    for &i in dag.order() {
        if !selected.contains(&i) {
            continue;
        }
        if let Some(up) = dag.upstream(i).iter().find_map(|&u| failed_by[u].clone()) {
            failed_by[i] = Some(up.clone());
            results.push((i, Finished::Skipped(up)));
            continue;
        }
        let result = job(i);
        if result.is_err() {
            failed_by[i] = Some(dag.stage(i).name.clone());
        }
        results.push((i, Finished::Done(result)));
    }
    results
}
