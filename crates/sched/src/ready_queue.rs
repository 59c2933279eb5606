//! The ready queue of the generic scheduler: round robin over SCPU ids.

use alloc::collections::VecDeque;

/// The queue could not grow (out of memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// FIFO of distinct ready ids.
#[derive(Debug, Clone)]
pub struct ReadyQueue<T> {
    queue: VecDeque<T>,
}

impl<T> Default for ReadyQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ReadyQueue<T> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }
}

impl<T> ReadyQueue<T> {
    /// Heap bytes the queue holds (its capacity, used or not).
    pub fn capacity_bytes(&self) -> usize {
        self.queue
            .capacity()
            .saturating_mul(core::mem::size_of::<T>())
    }
}

impl<T: Copy + PartialEq> ReadyQueue<T> {
    /// Queues `id` at the back unless it is queued already.
    ///
    /// # Errors
    /// [`QueueFull`] if the queue cannot grow.
    pub fn push(&mut self, id: T) -> Result<(), QueueFull> {
        if self.queue.contains(&id) {
            return Ok(());
        }
        self.queue.try_reserve(1).map_err(|_| QueueFull)?;
        self.queue.push_back(id);
        Ok(())
    }

    /// Queues `id` at the front (it runs next: a nested group's SCPU taking
    /// over its group's turn), moving it there if it was queued.
    ///
    /// # Errors
    /// [`QueueFull`] if the queue cannot grow.
    pub fn push_front(&mut self, id: T) -> Result<(), QueueFull> {
        self.queue.retain(|&x| x != id);
        self.queue.try_reserve(1).map_err(|_| QueueFull)?;
        self.queue.push_front(id);
        Ok(())
    }

    /// Takes the id at the front.
    pub fn pick(&mut self) -> Option<T> {
        self.queue.pop_front()
    }

    /// Takes `id` out wherever it is.
    pub fn remove(&mut self, id: T) {
        self.queue.retain(|&x| x != id);
    }

    /// True if `id` is queued.
    pub fn contains(&self, id: T) -> bool {
        self.queue.contains(&id)
    }

    /// Ids queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True if nothing is ready.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The queue in order, front first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.queue.iter()
    }

    /// Makes room for `n` more ids ahead of time.
    ///
    /// # Errors
    /// [`QueueFull`].
    pub fn reserve(&mut self, n: usize) -> Result<(), QueueFull> {
        self.queue.try_reserve(n).map_err(|_| QueueFull)
    }
}
