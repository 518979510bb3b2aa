//! Where a Challenge waits in cert-manager's challenge scheduler.
//!
//! cert-manager processes at most `--max-concurrent-challenges` (60 by default) Challenges at
//! once, oldest first, and never two with the same DNS name and challenge type. A Challenge
//! that is not processing and not final waits for one of those two reasons.

use std::collections::HashMap;

use kube::ResourceExt;

use super::state::challenge_is_final;
use super::{Challenge, Inventory};

/// cert-manager's default `--max-concurrent-challenges`.
pub const DEFAULT_MAX_CONCURRENT_CHALLENGES: usize = 60;

/// Why a Challenge is not being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// It is processing (or final): not waiting.
    None,
    /// Another Challenge for the same DNS name and type goes first (index into the inventory).
    BlockedBy(usize),
    /// All slots are taken: `processing` Challenges are running against a limit of `max`.
    NoSlot {
        /// Challenges currently processing in the estate.
        processing: usize,
        /// The limit.
        max: usize,
    },
    /// A slot is free: the scheduler will pick it on its next pass.
    Next,
}

fn key(ch: &Challenge) -> (String, String) {
    (
        ch.spec.dns_name.to_ascii_lowercase(),
        ch.spec.type_.to_ascii_lowercase(),
    )
}

/// Computes the wait of every Challenge in `inv` (same order as `inv.challenges`).
pub fn scheduler_waits(inv: &Inventory, max: usize) -> Vec<Wait> {
    let chs = &inv.challenges;
    let processing = chs.iter().filter(|c| is_processing(c)).count();
    let mut first_holder: HashMap<(String, String), usize> = HashMap::new();
    for (i, c) in chs.iter().enumerate().filter(|(_, c)| is_processing(c)) {
        first_holder.entry(key(c)).or_insert(i);
    }
    // Among the waiting ones, the oldest per key goes first: later ones wait behind it.
    let mut waiting: Vec<usize> = (0..chs.len())
        .filter(|&i| !is_processing(&chs[i]) && !challenge_is_final(&chs[i]))
        .collect();
    waiting.sort_by_key(|&i| (chs[i].creation_timestamp().map(|t| t.0), i));
    let mut waits = vec![Wait::None; chs.len()];
    for i in waiting {
        let k = key(&chs[i]);
        waits[i] = match first_holder.get(&k) {
            Some(&holder) => Wait::BlockedBy(holder),
            None => {
                first_holder.insert(k, i);
                if processing >= max {
                    Wait::NoSlot { processing, max }
                } else {
                    Wait::Next
                }
            }
        };
    }
    waits
}

fn is_processing(ch: &Challenge) -> bool {
    ch.status.as_ref().is_some_and(|s| s.processing) && !challenge_is_final(ch)
}
