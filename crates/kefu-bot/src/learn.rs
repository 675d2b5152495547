//! The learning loop's grouping (SPEC §1.5): questions the bot could not answer are grouped
//! with others that ask the same thing, so the admin handles "运费谁出 / 邮费谁付 / 寄回运费"
//! once — as a new entry, or as similar phrasings of an existing one.
//!
//! Questions are compared with the bot's own confidence (each question indexed as if it were
//! a knowledge-base entry), so "similar" means what it means for matching.

use crate::index::{Entry, Index};
use crate::lexicon::Lexicon;

/// Two questions scoring at least this against each other, both ways, are grouped. Both
/// ways, because the bot's confidence is asymmetric: "你们老板是谁" covers all its words in
/// any question containing 谁, but not the other way round.
pub const SAME_QUESTION: f32 = 0.40;

/// Groups questions; each group lists positions in `questions`, the group's most connected
/// question first, and groups come largest first.
pub fn group(lexicon: &Lexicon, questions: &[String], threshold: f32) -> Vec<Vec<usize>> {
    let n = questions.len();
    let entries = questions
        .iter()
        .enumerate()
        .map(|(key, q)| Entry {
            key,
            question: q.clone(),
            similar: Vec::new(),
            answer: String::new(),
        })
        .collect();
    let index = Index::new(lexicon.clone(), entries);
    let mut parent: Vec<usize> = (0..n).collect();
    let mut degree = vec![0usize; n];
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut scores = std::collections::HashMap::new();
    for (i, q) in questions.iter().enumerate() {
        for c in index.analyze(q).candidates {
            if c.key != i {
                scores.insert((i, c.key), c.score);
            }
        }
    }
    for (&(i, j), &s) in &scores {
        let back = scores.get(&(j, i)).copied().unwrap_or(0.0);
        if i < j && s.min(back) >= threshold {
            degree[i] += 1;
            degree[j] += 1;
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            if a != b {
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    for g in &mut groups {
        // Most connected first; ties keep the caller's order (e.g. newest first).
        g.sort_by_key(|&i| (std::cmp::Reverse(degree[i]), i));
    }
    groups.sort_by_key(|g| (std::cmp::Reverse(g.len()), g[0]));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_questions_group_together() {
        let qs: Vec<String> = [
            "寄回来的运费谁出",
            "退货邮费谁承担",
            "你们老板是谁",
            "退货运费谁出啊",
            "可以开发票吗",
            "能开专票吗",
            "能开发票吗",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let groups = group(&Lexicon::default(), &qs, SAME_QUESTION);
        let find = |i: usize| groups.iter().position(|g| g.contains(&i)).unwrap();
        assert_eq!(find(0), find(3));
        assert_eq!(find(1), find(3));
        assert_ne!(find(2), find(0));
        assert_eq!(find(4), find(6));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), qs.len());
        assert_eq!(groups[0].len(), 3, "{groups:?}");
    }
}
