//! Growing one tree on binned features: Breiman's CART step with `max_features` candidates
//! drawn at every split, scored from (bin x class) histograms.
//!
//! A tree sees its bootstrap sample as per-row multiplicities: the node row lists hold each
//! in-bag row once and histograms add its multiplicity, which is what copying the row would
//! give, at a fraction of the work. Histograms count in integers (multiplicity per class, plus
//! the number of distinct rows that `min_samples_leaf` and `min_samples_split` count, as
//! scikit-learn does), so a child's histogram can be its parent's minus its sibling's exactly,
//! and class weights are applied only when a split is scored, as the product of the class's
//! weight and its count.

use std::rc::Rc;

use rand::Rng;
use rayon::prelude::*;

use super::bins::Binned;
use super::criterion::{split_score, weighted_impurity};
use super::params::Criterion;
use super::sample::FeatureDraw;
use super::tree::{Node, Tree};

/// Nodes with at least this many rows build their candidate histograms in parallel; below it,
/// the work per histogram is too small to pay for a task.
pub(crate) const PARALLEL_ROWS: usize = 32_768;

/// What every tree of a fit shares: the data and the resolved hyper-parameters.
pub(crate) struct Setup<'a> {
    pub(crate) binned: &'a Binned,
    /// Class index of every row.
    pub(crate) labels: &'a [u32],
    pub(crate) n_classes: usize,
    /// Weight of every sample of each class.
    pub(crate) class_weights: &'a [f64],
    pub(crate) max_depth: usize,
    pub(crate) max_features: usize,
    pub(crate) min_samples_split: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) criterion: Criterion,
}

/// A grown tree and the impurity decrease each feature's splits brought (weighted by rows,
/// not yet normalised).
pub(crate) struct Grown {
    pub(crate) tree: Tree,
    pub(crate) importances: Vec<f64>,
}

/// A histogram of one feature over one node: for every bin, the multiplicity sum of each
/// class, then the number of distinct rows (`n_classes + 1` slots per bin).
type Hist = Vec<u32>;

/// A node waiting to be grown: its rows are `rows[start..end]`.
struct Task {
    id: usize,
    start: usize,
    end: usize,
    depth: usize,
    /// The parent's histograms and the sibling's rows, for building by subtraction.
    parent: Option<Rc<Vec<(usize, Hist)>>>,
    sibling: (usize, usize),
}

/// The best split found so far at a node.
struct Best {
    feature: usize,
    /// The last bin going left; `next` is the first bin holding rows to its right.
    bin: usize,
    next: usize,
    score: f64,
    /// Multiplicity per class and distinct rows on the left.
    left: Vec<u32>,
}

/// Grows one tree on the rows whose multiplicity (`counts`) is positive, drawing split
/// candidates from `rng`.
pub(crate) fn grow(setup: &Setup, counts: &[u32], rng: &mut impl Rng) -> Grown {
    let mut rows: Vec<u32> = (0..counts.len() as u32)
        .filter(|&r| counts[r as usize] > 0)
        .collect();
    let mut grower = Grower {
        setup,
        counts,
        k1: setup.n_classes + 1,
        draw: FeatureDraw::new(setup.binned.n_features()),
        nodes: vec![Node::Leaf { proba: Vec::new() }],
        importances: vec![0.0; setup.binned.n_features()],
        scratch: Vec::with_capacity(rows.len()),
    };
    let root = Task {
        id: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
        parent: None,
        sibling: (0, 0),
    };
    let mut stack = Vec::new();
    let root_weight = grower.node(root, &mut rows, rng, &mut stack);
    while let Some(task) = stack.pop() {
        grower.node(task, &mut rows, rng, &mut stack);
    }
    if root_weight > 0.0 {
        grower
            .importances
            .iter_mut()
            .for_each(|v| *v /= root_weight);
    }
    Grown {
        tree: Tree {
            nodes: grower.nodes,
        },
        importances: grower.importances,
    }
}

struct Grower<'a, 's> {
    setup: &'a Setup<'s>,
    counts: &'a [u32],
    /// Slots per bin in a histogram.
    k1: usize,
    draw: FeatureDraw,
    nodes: Vec<Node>,
    importances: Vec<f64>,
    scratch: Vec<u32>,
}

impl Grower<'_, '_> {
    /// Grows node `task`: makes it a leaf or splits it and pushes its children. Returns the
    /// node's total sample weight.
    fn node(
        &mut self,
        task: Task,
        rows: &mut [u32],
        rng: &mut impl Rng,
        stack: &mut Vec<Task>,
    ) -> f64 {
        let s = self.setup;
        let node_rows = &rows[task.start..task.end];
        let mut totals = vec![0u32; self.k1];
        for &r in node_rows {
            totals[s.labels[r as usize] as usize] += self.counts[r as usize];
        }
        let n = node_rows.len();
        totals[s.n_classes] = n as u32;
        let weights = self.class_weights(&totals);
        let total: f64 = weights.iter().sum();
        let classes_present = totals[..s.n_classes].iter().filter(|&&c| c > 0).count();
        let leaf = task.depth >= s.max_depth
            || n < s.min_samples_split
            || n < 2 * s.min_samples_leaf
            || classes_present <= 1;
        let found = if leaf {
            None
        } else {
            self.best_split(&task, rows, &totals, rng)
        };
        let Some((best, hists)) = found else {
            let proba = weights
                .iter()
                .map(|&w| if total > 0.0 { w / total } else { 0.0 })
                .collect();
            self.nodes[task.id] = Node::Leaf { proba };
            return total;
        };

        let right: Vec<u32> = (0..s.n_classes).map(|c| totals[c] - best.left[c]).collect();
        let (left_w, right_w) = (self.class_weights(&best.left), self.class_weights(&right));
        let (left_total, right_total) = (left_w.iter().sum(), right_w.iter().sum());
        self.importances[best.feature] += weighted_impurity(s.criterion, &weights, total)
            - weighted_impurity(s.criterion, &left_w, left_total)
            - weighted_impurity(s.criterion, &right_w, right_total);

        let mid = task.start + self.partition(&mut rows[task.start..task.end], &best);
        let (left_id, right_id) = (self.nodes.len(), self.nodes.len() + 1);
        self.nodes.push(Node::Leaf { proba: Vec::new() });
        self.nodes.push(Node::Leaf { proba: Vec::new() });
        self.nodes[task.id] = Node::Split {
            feature: best.feature,
            threshold: s.binned.threshold(best.feature, best.bin, best.next),
            left: left_id,
            right: right_id,
        };
        let parent = Rc::new(hists);
        // The left child is pushed last so it is grown first: node ids then follow a
        // depth-first, left-first walk.
        stack.push(Task {
            id: right_id,
            start: mid,
            end: task.end,
            depth: task.depth + 1,
            parent: Some(parent.clone()),
            sibling: (task.start, mid),
        });
        stack.push(Task {
            id: left_id,
            start: task.start,
            end: mid,
            depth: task.depth + 1,
            parent: Some(parent),
            sibling: (mid, task.end),
        });
        total
    }

    /// Class weights of per-class multiplicities (`counts[..n_classes]`).
    fn class_weights(&self, counts: &[u32]) -> Vec<f64> {
        (0..self.setup.n_classes)
            .map(|c| counts[c] as f64 * self.setup.class_weights[c])
            .collect()
    }

    /// Draws candidate features (at least `max_features`, and on until one is not constant
    /// in the node) and returns the best valid split with the histograms built on the way,
    /// or `None` when no candidate splits the node. `rows` is the tree's whole row list.
    fn best_split(
        &mut self,
        task: &Task,
        rows: &[u32],
        totals: &[u32],
        rng: &mut impl Rng,
    ) -> Option<(Best, Vec<(usize, Hist)>)> {
        let s = self.setup;
        let node_rows = &rows[task.start..task.end];
        let sibling_rows = &rows[task.sibling.0..task.sibling.1];
        let parent_hist = |f: usize| {
            task.parent
                .as_deref()
                .and_then(|p| p.iter().find(|(pf, _)| *pf == f))
                .map(|(_, h)| h)
        };
        let n_features = self.draw.n_features();
        let first = s.max_features.min(n_features);
        // The first `max_features` draws, built in parallel on large nodes. Drawing them up
        // front consumes the generator exactly as drawing them one by one would.
        let jobs: Vec<(usize, Option<&Hist>)> = (0..first)
            .map(|i| {
                let f = self.draw.draw(rng, i);
                (f, parent_hist(f))
            })
            .collect();
        let this = &*self;
        let build = |&(f, parent): &(usize, Option<&Hist>)| {
            (f, this.histogram(f, node_rows, sibling_rows, parent))
        };
        let mut hists: Vec<(usize, Hist)> = if node_rows.len() >= PARALLEL_ROWS {
            jobs.par_iter().map(build).collect()
        } else {
            jobs.iter().map(build).collect()
        };
        let mut best: Option<Best> = None;
        let mut splittable = false;
        for (f, hist) in &hists {
            splittable |= self.evaluate(*f, hist, totals, &mut best);
        }
        let mut visited = first;
        while !splittable && visited < n_features {
            let f = self.draw.draw(rng, visited);
            visited += 1;
            let hist = self.histogram(f, node_rows, sibling_rows, parent_hist(f));
            splittable |= self.evaluate(f, &hist, totals, &mut best);
            hists.push((f, hist));
        }
        best.map(|b| (b, hists))
    }

    /// The histogram of feature `f` over the node: its parent's histogram minus its sibling's
    /// when the parent built one and counting the sibling is cheaper than counting the node,
    /// else counted directly. Both give the same integers.
    fn histogram(
        &self,
        f: usize,
        node_rows: &[u32],
        sibling_rows: &[u32],
        parent: Option<&Hist>,
    ) -> Hist {
        match parent {
            // Subtracting touches every slot once; counting touches two slots per row.
            Some(parent) if 2 * sibling_rows.len() + parent.len() < 2 * node_rows.len() => {
                let mut hist = parent.clone();
                let sibling = self.count(f, sibling_rows);
                hist.iter_mut().zip(&sibling).for_each(|(h, s)| *h -= s);
                hist
            }
            _ => self.count(f, node_rows),
        }
    }

    /// Counts the histogram of feature `f` over `rows`.
    fn count(&self, f: usize, rows: &[u32]) -> Hist {
        let k1 = self.k1;
        let k = self.setup.n_classes;
        let mut hist = vec![0u32; self.setup.binned.n_bins(f) * k1];
        let codes = self.setup.binned.column(f);
        for &r in rows {
            let r = r as usize;
            let base = codes[r] as usize * k1;
            hist[base + self.setup.labels[r] as usize] += self.counts[r];
            hist[base + k] += 1;
        }
        hist
    }

    /// Scores every split of feature `f`'s histogram that leaves `min_samples_leaf` rows on
    /// each side, keeping the best in `best` (earlier candidates win ties). Returns whether
    /// the feature takes more than one value in the node.
    fn evaluate(&self, f: usize, hist: &[u32], totals: &[u32], best: &mut Option<Best>) -> bool {
        let s = self.setup;
        let (k, k1) = (s.n_classes, self.k1);
        let n = totals[k];
        let min_leaf = s.min_samples_leaf as u32;
        let bins = hist.len() / k1;
        let mut left = vec![0u32; k1];
        let mut lw = vec![0.0; k];
        let mut rw = vec![0.0; k];
        let mut nonconstant = false;
        // The bins holding rows of the node, in order: candidate splits fall between them.
        let mut occupied = (0..bins).filter(|&b| hist[b * k1 + k] > 0).peekable();
        while let (Some(b), Some(&next)) = (occupied.next(), occupied.peek()) {
            let slot = &hist[b * k1..(b + 1) * k1];
            left.iter_mut().zip(slot).for_each(|(l, &v)| *l += v);
            nonconstant = true;
            if left[k] < min_leaf {
                continue;
            }
            if n - left[k] < min_leaf {
                break;
            }
            for c in 0..k {
                lw[c] = left[c] as f64 * s.class_weights[c];
                rw[c] = (totals[c] - left[c]) as f64 * s.class_weights[c];
            }
            let (lt, rt) = (lw.iter().sum::<f64>(), rw.iter().sum::<f64>());
            let score = split_score(s.criterion, &lw, lt, &rw, rt);
            if best.as_ref().is_none_or(|b| score > b.score) {
                *best = Some(Best {
                    feature: f,
                    bin: b,
                    next,
                    score,
                    left: left.clone(),
                });
            }
        }
        nonconstant
    }

    /// Reorders `rows` so the rows going left come first, each side keeping its order (rows
    /// stay increasing, so histogram passes read the code columns forwards); returns how
    /// many go left.
    fn partition(&mut self, rows: &mut [u32], best: &Best) -> usize {
        let codes = self.setup.binned.column(best.feature);
        let bin = best.bin as u8;
        self.scratch.clear();
        let mut left = 0;
        for i in 0..rows.len() {
            let r = rows[i];
            if codes[r as usize] <= bin {
                rows[left] = r;
                left += 1;
            } else {
                self.scratch.push(r);
            }
        }
        rows[left..].copy_from_slice(&self.scratch);
        left
    }
}
