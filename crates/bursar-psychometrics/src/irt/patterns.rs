//! Distinct response patterns over the calibrated items, with their frequencies.
//!
//! Persons with the same responses have the same posterior, so every E-step works on
//! patterns. Patterns are ordered lexicographically, item 1 most significant, with
//! 0 < 1 < missing (LSAT-style tables come out in their usual order).

use crate::data::{ResponseMatrix, MISSING};

#[derive(Clone)]
pub(crate) struct Patterns {
    pub k: usize,
    pub freq: Vec<f64>,
    cor_off: Vec<usize>,
    cor: Vec<u32>,
    mis_off: Vec<usize>,
    mis: Vec<u32>,
    pub any_missing: bool,
    /// n_patterns × k responses (0, 1, MISSING).
    pub resp: Vec<u8>,
    /// Pattern of every person.
    pub person_pattern: Vec<u32>,
    /// Persons with at least one answered item.
    pub n_answering: usize,
}

impl Patterns {
    pub fn build(m: &ResponseMatrix, items: &[usize]) -> Patterns {
        let n = m.n_persons();
        let k = items.len();
        let words = k.div_ceil(32).max(1);
        let mut keys = vec![0u64; n * words];
        for i in 0..n {
            let row = m.row(i);
            let key = &mut keys[i * words..(i + 1) * words];
            for (t, &j) in items.iter().enumerate() {
                let code = match row[j] {
                    MISSING => 2u64,
                    v => v as u64,
                };
                key[t / 32] |= code << (62 - 2 * (t % 32));
            }
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        let key_of = |i: u32| &keys[i as usize * words..(i as usize + 1) * words];
        order.sort_unstable_by(|&x, &y| key_of(x).cmp(key_of(y)).then(x.cmp(&y)));
        let mut freq = Vec::new();
        let mut cor_off = vec![0usize];
        let mut cor = Vec::new();
        let mut mis_off = vec![0usize];
        let mut mis = Vec::new();
        let mut resp = Vec::new();
        let mut person_pattern = vec![0u32; n];
        let mut any_missing = false;
        let mut n_answering = 0usize;
        let mut start = 0usize;
        while start < n {
            let first = order[start];
            let mut end = start + 1;
            while end < n && key_of(order[end]) == key_of(first) {
                end += 1;
            }
            let p = freq.len() as u32;
            for &i in &order[start..end] {
                person_pattern[i as usize] = p;
            }
            freq.push((end - start) as f64);
            let row = m.row(first as usize);
            let mut answered = false;
            for (t, &j) in items.iter().enumerate() {
                let v = row[j];
                resp.push(v);
                match v {
                    1 => {
                        cor.push(t as u32);
                        answered = true;
                    }
                    MISSING => {
                        mis.push(t as u32);
                        any_missing = true;
                    }
                    _ => answered = true,
                }
            }
            if answered {
                n_answering += end - start;
            }
            cor_off.push(cor.len());
            mis_off.push(mis.len());
            start = end;
        }
        Patterns { k, freq, cor_off, cor, mis_off, mis, any_missing, resp, person_pattern, n_answering }
    }

    pub fn len(&self) -> usize {
        self.freq.len()
    }

    pub fn correct(&self, p: usize) -> &[u32] {
        &self.cor[self.cor_off[p]..self.cor_off[p + 1]]
    }

    pub fn missing(&self, p: usize) -> &[u32] {
        &self.mis[self.mis_off[p]..self.mis_off[p + 1]]
    }

    pub fn responses(&self, p: usize) -> &[u8] {
        &self.resp[p * self.k..(p + 1) * self.k]
    }

    /// The pattern as text: `0`, `1`, and `.` for missing.
    pub fn pattern_string(&self, p: usize) -> String {
        self.responses(p)
            .iter()
            .map(|&v| match v {
                0 => '0',
                1 => '1',
                _ => '.',
            })
            .collect()
    }
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patterns({} patterns × {} items)", self.len(), self.k)
    }
}
