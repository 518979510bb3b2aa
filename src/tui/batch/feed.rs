//! The batch and its progress, as the main runtime polls them next to the keys: the batch
//! future itself (so leaving the view drops it, and with it every attempt it runs; the state
//! store makes that safe and the next run resumes) and the watch of its snapshots. A burst
//! of snapshots costs one clone: a snapshot is read only when a frame is about to be drawn.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::watch;

use crate::engine::batch::{BatchError, BatchProgress, BatchReport};

/// How the view ended, for `certdx issue`.
#[derive(Debug)]
pub enum ViewExit {
    /// The batch ended (with its report or its error) and the user left.
    Finished(Box<Result<BatchReport, BatchError>>),
    /// The user stopped the batch while it ran; it was dropped where it stood.
    Stopped,
}

/// The line the view shows when the batch ends.
pub fn outcome_text(result: &Result<BatchReport, BatchError>) -> Result<String, String> {
    match result {
        Ok(r) => {
            let m = &r.summary;
            Ok(format!(
                "{} issued, {} already issued, {} failed in {:.1} s",
                m.issued,
                m.already_issued,
                m.failed,
                m.duration_ms as f64 / 1000.0
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What [`BatchFeed::next`] saw.
#[derive(Debug)]
pub enum BatchEvent {
    /// A new snapshot waits; it is read by [`BatchFeed::snapshot`] before the next frame.
    Changed,
    /// The batch ended: its one-line outcome (the report is kept for [`BatchFeed::exit`]).
    Finished(Result<String, String>),
}

type Batch<'a> = Pin<Box<dyn Future<Output = Result<BatchReport, BatchError>> + 'a>>;

/// A running batch and its progress feed.
pub struct BatchFeed<'a> {
    batch: Batch<'a>,
    progress: watch::Receiver<BatchProgress>,
    report: Option<Result<BatchReport, BatchError>>,
    feed_open: bool,
    unread: bool,
}

impl<'a> BatchFeed<'a> {
    /// Follows `batch`, whose snapshots come on `progress`.
    pub fn new<F>(progress: watch::Receiver<BatchProgress>, batch: F) -> BatchFeed<'a>
    where
        F: Future<Output = Result<BatchReport, BatchError>> + 'a,
    {
        BatchFeed {
            batch: Box::pin(batch),
            progress,
            report: None,
            feed_open: true,
            // The first frame shows the snapshot as it is.
            unread: true,
        }
    }

    /// Polls the batch and the feed until one has news; pending forever once the batch has
    /// ended and the feed has nothing unread. Cancel safe: the batch is only borrowed.
    pub async fn next(&mut self) -> BatchEvent {
        tokio::select! {
            result = &mut self.batch, if self.report.is_none() => {
                let text = outcome_text(&result);
                self.report = Some(result);
                // The last snapshot (phase Done, final counts) comes with the end.
                self.unread = true;
                BatchEvent::Finished(text)
            }
            changed = self.progress.changed(), if self.feed_open && !self.unread => {
                match changed {
                    Ok(()) => self.unread = true,
                    Err(_) => self.feed_open = false,
                }
                BatchEvent::Changed
            }
            else => std::future::pending().await,
        }
    }

    /// The newest snapshot, if one arrived since the last call.
    pub fn snapshot(&mut self) -> Option<BatchProgress> {
        if !std::mem::take(&mut self.unread) {
            return None;
        }
        Some(self.progress.borrow_and_update().clone())
    }

    /// How the view ended: with the batch's report if it ended, else stopped.
    pub fn exit(self) -> ViewExit {
        match self.report {
            Some(r) => ViewExit::Finished(Box::new(r)),
            None => ViewExit::Stopped,
        }
    }
}
