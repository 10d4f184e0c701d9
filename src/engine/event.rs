//! The event queue. Events are totally ordered by (time, class, sequence
//! number): at one instant all completions come before all arrivals, then the
//! scheduling pass, then the metrics sample, then the end of the horizon; within
//! a class, events keep the order in which they were pushed (FIFO), so a run is
//! reproducible whatever the heap's internal layout.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::ids::{JobId, NodeId};
use crate::time::SimTime;

/// Event classes, in the order they run at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventClass {
    /// A job's run ended; frees its resources first so that arrivals and the
    /// pass at the same instant see them.
    Completion = 0,
    /// Nodes failing, coming back or being reclaimed, after completions (a
    /// job that ends as its node fails has finished) and before arrivals.
    Node = 1,
    Arrival = 2,
    /// Service syncs (HPA) after arrivals, before the pass sees the capacity.
    Service = 3,
    /// One pass per instant, after every completion and arrival.
    Schedule = 4,
    /// The cluster autoscaler's scan sees the state after the pass.
    Scan = 5,
    /// Samples see the state after the pass.
    Sample = 6,
    Horizon = 7,
}

/// Why a node went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownCause {
    /// A failure; the node comes back after repair.
    Failure,
    /// A spot reclaim at the end of its notice; the node is gone for good.
    Reclaim,
}

/// What happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Run `attempt` of `job` finished (a stale attempt, e.g. after a
    /// preemption, is ignored).
    Completion { job: JobId, attempt: u32 },
    /// `job` is submitted.
    Arrival { job: JobId },
    /// `node` fails (or is reclaimed): its jobs are killed.
    NodeDown { node: NodeId, cause: DownCause },
    /// `node` is repaired (or finished provisioning) and takes work.
    NodeUp { node: NodeId },
    /// A cluster-autoscaler scan.
    Scan,
    /// A sync of service `service` (index in the scenario's list).
    ServiceSync { service: u32 },
    /// A scheduling pass; `periodic` passes schedule the next tick.
    Schedule { periodic: bool },
    /// A timeline sample.
    Sample,
    /// The end of the simulated horizon.
    Horizon,
}

impl Event {
    pub fn class(&self) -> EventClass {
        match self {
            Event::Completion { .. } => EventClass::Completion,
            Event::Arrival { .. } => EventClass::Arrival,
            Event::NodeDown { .. } | Event::NodeUp { .. } => EventClass::Node,
            Event::Scan => EventClass::Scan,
            Event::ServiceSync { .. } => EventClass::Service,
            Event::Schedule { .. } => EventClass::Schedule,
            Event::Sample => EventClass::Sample,
            Event::Horizon => EventClass::Horizon,
        }
    }
}

#[derive(Debug)]
struct Entry {
    time: SimTime,
    class: EventClass,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the smallest key.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}
impl Entry {
    fn key(&self) -> (SimTime, EventClass, u64) {
        (self.time, self.class, self.seq)
    }
}

/// A priority queue of events with the total order described in the module
/// docs.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl EventQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: SimTime, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time,
            class: event.class(),
            seq,
            event,
        });
    }

    /// The next event and its time.
    pub fn pop(&mut self) -> Option<(SimTime, Event)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// The time of the next event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_class_then_push_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), Event::Arrival { job: JobId(1) });
        q.push(SimTime(5), Event::Schedule { periodic: false });
        q.push(SimTime(5), Event::Arrival { job: JobId(0) });
        q.push(
            SimTime(5),
            Event::Completion {
                job: JobId(9),
                attempt: 0,
            },
        );
        q.push(SimTime(3), Event::Horizon);
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            got,
            [
                (SimTime(3), Event::Horizon),
                (
                    SimTime(5),
                    Event::Completion {
                        job: JobId(9),
                        attempt: 0
                    }
                ),
                (SimTime(5), Event::Arrival { job: JobId(1) }),
                (SimTime(5), Event::Arrival { job: JobId(0) }),
                (SimTime(5), Event::Schedule { periodic: false }),
            ]
        );
    }
}
