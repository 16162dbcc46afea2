//! A short list of borrowed strings on the stack.

/// How many entries live on the stack; more (only under limits raised past the
/// defaults) go to the heap.
const INLINE: usize = 8;

/// Dictionary keys, parameter names or component identifiers seen so far in one field:
/// a handful, so they are kept without allocating.
#[derive(Debug, Default)]
pub(crate) struct Few<'a> {
    inline: [&'a str; INLINE],
    len: usize,
    spill: Vec<&'a str>,
}

impl<'a> Few<'a> {
    pub(crate) fn push(&mut self, value: &'a str) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = value,
            None => self.spill.push(value),
        }
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn contains(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.inline
            .iter()
            .take(self.len)
            .chain(self.spill.iter())
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_past_the_inline_entries() {
        let names: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
        let mut few = Few::default();
        for name in &names {
            few.push(name);
        }
        assert_eq!(few.len(), 20);
        assert!(few.iter().eq(names.iter().map(String::as_str)));
        assert!(few.contains("n19") && few.contains("n0") && !few.contains("n20"));
    }
}
