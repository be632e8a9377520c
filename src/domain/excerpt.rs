//! What the Worker reads of an uploaded file to judge it: a few windows of its bytes at known
//! offsets, and its total size. The file itself stays in the runtime's memory (a Blob), never
//! in the Worker's. Readers ask for bytes by their offset in the file; when no window holds
//! them, the excerpt notes the first such range, so the caller can read it and ask again.

use std::cell::Cell;
use std::ops::Range;

#[derive(Debug, Clone, Default)]
pub struct Excerpt {
    size: usize,
    windows: Vec<(usize, Vec<u8>)>,
    missing: Cell<Option<(usize, usize)>>,
}

impl Excerpt {
    /// A file of `size` bytes of which nothing is read yet.
    pub fn new(size: usize) -> Excerpt {
        Excerpt { size, ..Excerpt::default() }
    }

    /// A file read whole (small files, and tests).
    pub fn whole(bytes: &[u8]) -> Excerpt {
        let mut e = Excerpt::new(bytes.len());
        e.add(0, bytes.to_vec());
        e
    }

    /// The bytes of the file from `offset` on.
    pub fn add(&mut self, offset: usize, bytes: Vec<u8>) {
        self.windows.push((offset, bytes));
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The `len` bytes at `offset`, when a window holds them all. `None` past the end of the
    /// file (it does not have them), or when no window holds them (then noted as missing).
    pub fn get(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.size {
            return None;
        }
        if len == 0 {
            return Some(&[]);
        }
        let held = self.windows.iter().find(|(at, bytes)| offset >= *at && end <= at + bytes.len());
        match held {
            Some((at, bytes)) => Some(&bytes[offset - at..end - at]),
            None => {
                if self.missing.get().is_none() {
                    self.missing.set(Some((offset, end)));
                }
                None
            }
        }
    }

    /// Up to `len` bytes at `offset`: fewer where the file ends.
    pub fn get_upto(&self, offset: usize, len: usize) -> Option<&[u8]> {
        self.get(offset, len.min(self.size.checked_sub(offset)?))
    }

    /// The first range asked for that no window held (and forgets it).
    pub fn take_missing(&self) -> Option<Range<usize>> {
        self.missing.take().map(|(start, end)| start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_from_the_window_holding_them() {
        let mut e = Excerpt::new(100);
        e.add(0, (0..10).collect());
        e.add(90, (90..100).collect());
        assert_eq!(e.get(2, 3), Some(&[2u8, 3, 4][..]));
        assert_eq!(e.get(95, 5), Some(&[95u8, 96, 97, 98, 99][..]));
        assert_eq!(e.get_upto(98, 10), Some(&[98u8, 99][..]));
        assert_eq!(e.take_missing(), None);
    }

    #[test]
    fn bytes_no_window_holds_are_noted_but_the_end_of_the_file_is_not() {
        let mut e = Excerpt::new(100);
        e.add(0, (0..10).collect());
        assert_eq!(e.get(98, 4), None, "past the end: the file does not have them");
        assert_eq!(e.take_missing(), None);
        assert_eq!(e.get(8, 4), None, "straddles the window's end");
        assert_eq!(e.get(50, 2), None);
        assert_eq!(e.take_missing(), Some(8..12), "the first range missed");
        assert_eq!(e.take_missing(), None);
    }
}
