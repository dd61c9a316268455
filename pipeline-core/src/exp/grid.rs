//! `--grid key=v1,v2,…`: the cartesian product of every grid's values, each point a list of
//! `-S` overrides. Points come out in a stable order (first grid varies slowest).

/// Why a grid argument is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--grid {text}: {why}")]
pub struct GridError {
    text: String,
    why: &'static str,
}

/// Expands `grids` into points; with no grid, one point with no overrides.
pub fn expand(grids: &[String]) -> Result<Vec<Vec<String>>, GridError> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for text in grids {
        let bad = |why| GridError {
            text: text.clone(),
            why,
        };
        let (key, values) = text
            .split_once('=')
            .ok_or_else(|| bad("expected key=v1,v2,…"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        let values: Vec<&str> = values.split(',').map(str::trim).collect();
        if values.iter().any(|v| v.is_empty()) {
            return Err(bad("a value is empty"));
        }
        points = points
            .into_iter()
            .flat_map(|point| {
                values.iter().map(move |v| {
                    let mut next = point.clone();
                    next.push(format!("{key}={v}"));
                    next
                })
            })
            .collect();
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cartesian_product_in_order() {
        let points = expand(&["a=1,2".into(), "b=x,y,z".into()]).unwrap();
        assert_eq!(points.len(), 6);
        assert_eq!(points[0], ["a=1", "b=x"]);
        assert_eq!(points[5], ["a=2", "b=z"]);
        assert_eq!(expand(&[]).unwrap(), vec![Vec::<String>::new()]);
        assert!(expand(&["a=1,,2".into()]).is_err());
        assert!(expand(&["a".into()]).is_err());
    }
}
