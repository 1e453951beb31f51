//! Stripe's bracket-notation form parameters decoded into a tree.

use super::*;

/// Decoded bracket-notation parameters.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(Vec<Node>),
}

impl Node {
    pub(super) fn parse(pairs: &[(String, String)]) -> Result<Node, String> {
        let mut root = Node::Map(BTreeMap::new());
        for (key, value) in pairs {
            let segments = split_key(key).ok_or_else(|| format!("Invalid parameter name: {key}"))?;
            root.insert(&segments, value.clone()).map_err(|()| format!("Invalid array or hash: {key}"))?;
        }
        Ok(root)
    }

    pub(super) fn insert(&mut self, segments: &[String], value: String) -> Result<(), ()> {
        let (first, rest) = segments.split_first().ok_or(())?;
        let make = |rest: &[String]| -> Node {
            match rest.first() {
                None => Node::Leaf(String::new()),
                Some(s) if s.is_empty() => Node::List(Vec::new()),
                Some(_) => Node::Map(BTreeMap::new()),
            }
        };
        let child: &mut Node = match self {
            Node::Map(m) if !first.is_empty() => m.entry(first.clone()).or_insert_with(|| make(rest)),
            Node::List(l) if first.is_empty() => {
                l.push(make(rest));
                l.last_mut().expect("pushed")
            }
            _ => return Err(()),
        };
        if rest.is_empty() {
            match child {
                Node::Leaf(s) => {
                    *s = value;
                    Ok(())
                }
                _ => Err(()),
            }
        } else {
            child.insert(rest, value)
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.get(key),
            _ => None,
        }
    }

    pub(super) fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Node::Leaf(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub(super) fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    /// Items of a list given as `k[]=…` or `k[0]=…`.
    pub(super) fn items(&self) -> Vec<&Node> {
        match self {
            Node::List(l) => l.iter().collect(),
            Node::Map(m) => {
                let mut v: Vec<(usize, &Node)> = m.iter().filter_map(|(k, n)| k.parse().ok().map(|i| (i, n))).collect();
                v.sort_by_key(|(i, _)| *i);
                v.into_iter().map(|(_, n)| n).collect()
            }
            Node::Leaf(_) => Vec::new(),
        }
    }

    pub(super) fn strings(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|n| {
                n.items()
                    .into_iter()
                    .filter_map(|i| match i {
                        Node::Leaf(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn string_map(&self, key: &str) -> Map<String, Value> {
        match self.get(key) {
            Some(Node::Map(m)) => m
                .iter()
                .filter_map(|(k, v)| match v {
                    Node::Leaf(s) if !s.is_empty() => Some((k.clone(), json!(s))),
                    _ => None,
                })
                .collect(),
            _ => Map::new(),
        }
    }
}

/// `a[b][0][]` → `["a", "b", "0", ""]`.
pub(super) fn split_key(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut out = vec![head.to_string()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        out.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some(out)
}
