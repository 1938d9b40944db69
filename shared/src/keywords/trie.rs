//! The classifier's vocabulary as a byte trie: keyword entries under their compact keys,
//! and the grammar's words with their word classes.
//!
//! A message is matched by walking the trie from each token across the following tokens'
//! bytes. Most walks end after a byte or two (nothing in the vocabulary starts that way),
//! and a run of tokens is a contiguous slice of the message's buffer, so matching allocates
//! nothing and hashes nothing.

use std::collections::BTreeMap;

/// What a node at the end of a key holds.
#[derive(Debug, Clone, Default)]
struct Values {
    /// Keyword entries (indices into the classifier's entries) whose compact key ends here.
    entries: Vec<u32>,
    /// Word classes of a grammar word that ends here (`grammar::class`), and its languages.
    classes: u64,
    languages: u8,
}

/// The trie while it is being filled.
#[derive(Debug, Clone, Default)]
pub(super) struct TrieBuilder {
    children: Vec<BTreeMap<u8, u32>>,
    values: Vec<Values>,
}

impl TrieBuilder {
    pub(super) fn new() -> TrieBuilder {
        TrieBuilder {
            children: vec![BTreeMap::new()],
            values: vec![Values::default()],
        }
    }

    fn node_for(&mut self, key: &str) -> usize {
        let mut node = 0usize;
        for &b in key.as_bytes() {
            let next = self.children.len();
            let child = self
                .children
                .get_mut(node)
                .map(|c| *c.entry(b).or_insert(next as u32));
            match child {
                Some(child) if child as usize == next => {
                    self.children.push(BTreeMap::new());
                    self.values.push(Values::default());
                    node = next;
                }
                Some(child) => node = child as usize,
                None => break,
            }
        }
        node
    }

    pub(super) fn add_entry(&mut self, key: &str, entry: u32) {
        let node = self.node_for(key);
        if let Some(values) = self.values.get_mut(node) {
            values.entries.push(entry);
        }
    }

    pub(super) fn add_word(&mut self, word: &str, classes: u64, languages: u8) {
        let node = self.node_for(word);
        if let Some(values) = self.values.get_mut(node) {
            values.classes |= classes;
            values.languages |= languages;
        }
    }

    /// The entries listed under exactly this key.
    pub(super) fn entries(&self, key: &str) -> &[u32] {
        let mut node = 0usize;
        for &b in key.as_bytes() {
            match self.children.get(node).and_then(|c| c.get(&b)) {
                Some(&child) => node = child as usize,
                None => return &[],
            }
        }
        self.values.get(node).map_or(&[], |v| v.entries.as_slice())
    }

    /// Word classes of the grammar word spelled exactly `word` (0 if none).
    pub(super) fn word(&self, word: &str) -> u64 {
        let mut node = 0usize;
        for &b in word.as_bytes() {
            match self.children.get(node).and_then(|c| c.get(&b)) {
                Some(&child) => node = child as usize,
                None => return 0,
            }
        }
        self.values.get(node).map_or(0, |v| v.classes)
    }

    /// The finished trie: every node's edges and entries in flat arrays.
    pub(super) fn build(&self) -> Trie {
        let mut trie = Trie {
            nodes: Vec::with_capacity(self.children.len()),
            labels: Vec::new(),
            targets: Vec::new(),
            entries: Vec::new(),
            root: [NONE; 256],
        };
        for (children, values) in self.children.iter().zip(&self.values) {
            let edges_start = trie.labels.len() as u32;
            for (&label, &target) in children {
                trie.labels.push(label);
                trie.targets.push(target);
            }
            let entries_start = trie.entries.len() as u32;
            trie.entries.extend_from_slice(&values.entries);
            trie.nodes.push(Node {
                edges_start,
                edges_end: trie.labels.len() as u32,
                entries_start,
                entries_end: trie.entries.len() as u32,
                classes: values.classes,
                languages: values.languages,
            });
        }
        if let Some(children) = self.children.first() {
            for (&label, &target) in children {
                trie.root[usize::from(label)] = target;
            }
        }
        trie
    }
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    edges_start: u32,
    edges_end: u32,
    entries_start: u32,
    entries_end: u32,
    classes: u64,
    languages: u8,
}

#[derive(Debug, Clone)]
pub(super) struct Trie {
    nodes: Vec<Node>,
    /// Edge labels, each node's sorted and contiguous; `targets` runs beside it.
    labels: Vec<u8>,
    targets: Vec<u32>,
    entries: Vec<u32>,
    /// The root's edges as a table: every walk starts there.
    root: [u32; 256],
}

/// A position in the trie: the root or a node.
pub(super) const ROOT: u32 = 0;

impl Trie {
    /// The node reached from `node` by `byte`.
    #[inline]
    pub(super) fn step(&self, node: u32, byte: u8) -> Option<u32> {
        if node == ROOT {
            let next = self.root[usize::from(byte)];
            return (next != NONE).then_some(next);
        }
        let n = self.nodes.get(node as usize)?;
        let labels = self
            .labels
            .get(n.edges_start as usize..n.edges_end as usize)?;
        // Most nodes have one or two edges: a linear scan beats a binary search here.
        let at = labels.iter().position(|&l| l == byte)?;
        self.targets.get(n.edges_start as usize + at).copied()
    }

    /// The node reached from `node` by every byte of `bytes`.
    #[inline]
    pub(super) fn walk(&self, mut node: u32, bytes: &[u8]) -> Option<u32> {
        for &b in bytes {
            node = self.step(node, b)?;
        }
        Some(node)
    }

    /// Entries whose compact key ends at `node`.
    #[inline]
    pub(super) fn entries(&self, node: u32) -> &[u32] {
        self.nodes
            .get(node as usize)
            .and_then(|n| {
                self.entries
                    .get(n.entries_start as usize..n.entries_end as usize)
            })
            .unwrap_or(&[])
    }

    /// Word classes and languages of the grammar word that ends at `node` (0 if none).
    #[inline]
    pub(super) fn word(&self, node: u32) -> (u64, u8) {
        self.nodes
            .get(node as usize)
            .map_or((0, 0), |n| (n.classes, n.languages))
    }
}
