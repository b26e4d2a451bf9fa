//! Sending account-recovery email over SMTP, off the request path: a use case puts a
//! message on a bounded in-process queue ([`Mailer::enqueue`], which never waits) and a
//! background task delivers it, retrying a few times with backoff. A failure is logged and
//! counted (`emails_total{outcome}`), never shown to the caller: the answer, and its timing,
//! must not depend on the mail server.

mod messages;
mod smtp_url;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

pub use messages::{Links, Outgoing};
pub use smtp_url::{SmtpSecurity, SmtpUrl};

use crate::accounts::Policy;
use crate::accounts::email::{EmailService, email_change_throttle};
use crate::accounts::recovery::recovery_throttles;
use crate::config::Settings;
use crate::metrics::Metrics;

/// Messages waiting for delivery at most; beyond, new ones are dropped (and counted).
const QUEUE: usize = 1024;
/// Slots that messages a signed-in user can have sent at will (an email change's
/// verification and notice, [`Mailer::enqueue_unreserved`]) never take: resets and first
/// verifications always find room, however many changes are queued.
const RESERVED: usize = QUEUE / 4;
/// Deliveries in flight at once.
const CONCURRENT: usize = 4;
/// Attempts per message, and the pause before the first retry (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest a single SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The email service when `SMTP_URL` is set: the queue and its draining task (started
/// here, on the running runtime), the links, lifetimes and reset throttles.
pub fn service(
    settings: &Settings,
    policy: &Policy,
    metrics: &Metrics,
) -> anyhow::Result<Option<EmailService>> {
    let config = &settings.email;
    let Some(url) = &config.smtp else {
        return Ok(None);
    };
    let (mailer, _task) = Mailer::start(url, config.from.clone(), metrics.clone())?;
    let (target_throttle, address_throttle) = recovery_throttles(&policy.login_throttle);
    let change_throttle = email_change_throttle(&policy.login_throttle);
    Ok(Some(EmailService {
        mailer,
        links: Links {
            verify: config.verify_url.clone(),
            reset: config.reset_url.clone(),
        },
        token_ttl: config.token_ttl,
        reset_ttl: config.reset_ttl,
        target_throttle,
        address_throttle,
        change_throttle,
        preparing: Arc::new(Semaphore::new(PREPARING)),
    }))
}

/// Reset requests being prepared off the request path at most (beyond, dropped).
const PREPARING: usize = 64;

/// The queue's sending end. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Outgoing>,
    metrics: Metrics,
}

impl Mailer {
    /// Connects nothing yet: builds the SMTP transport from `url` and starts the task that
    /// drains the queue.
    pub fn start(
        url: &SmtpUrl,
        from: Mailbox,
        metrics: Metrics,
    ) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .context("invalid SMTP_URL")?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let (queue, rx) = mpsc::channel(QUEUE);
        let sender = Sender {
            transport,
            from,
            metrics: metrics.clone(),
        };
        let task = tokio::spawn(drain(rx, Arc::new(sender)));
        tracing::info!(smtp = %url.masked(), "email on");
        Ok((Self { queue, metrics }, task))
    }

    /// Puts `message` on the queue like [`Mailer::enqueue`], unless no more than the
    /// [`RESERVED`] slots are free: for the messages of an email change, so that they
    /// cannot crowd resets and first verifications out of the queue.
    pub fn enqueue_unreserved(&self, message: Outgoing) {
        if self.queue.capacity() <= RESERVED {
            tracing::warn!(
                kind = message.kind,
                "email dropped: the queue is nearly full"
            );
            self.metrics.email(message.kind, "dropped");
            return;
        }
        self.enqueue(message);
    }

    /// Puts `message` on the queue without waiting; a full queue drops it (logged, counted).
    pub fn enqueue(&self, message: Outgoing) {
        if let Err(e) = self.queue.try_send(message) {
            let kind = match &e {
                mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m.kind,
            };
            tracing::warn!(kind, "email dropped: the queue is full");
            self.metrics.email(kind, "dropped");
        }
    }
}

struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    metrics: Metrics,
}

async fn drain(mut rx: mpsc::Receiver<Outgoing>, sender: Arc<Sender>) {
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    while let Some(message) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let sender = sender.clone();
        tokio::spawn(async move {
            sender.deliver(message).await;
            drop(slot);
        });
    }
}

impl Sender {
    /// Up to [`ATTEMPTS`] tries with doubling pauses; the outcome is logged and counted.
    async fn deliver(&self, outgoing: Outgoing) {
        let kind = outgoing.kind;
        let message = match self.build(outgoing) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(kind, error = %e, "email not sent: cannot build the message");
                self.metrics.email(kind, "failed");
                return;
            }
        };
        let mut pause = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match self.transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::debug!(kind, attempt, "email sent");
                    self.metrics.email(kind, "sent");
                    return;
                }
                Err(e) if attempt < ATTEMPTS && !e.is_permanent() => {
                    tracing::warn!(kind, attempt, error = %e, retry_in = ?pause, "email not sent yet");
                    self.metrics.email(kind, "retried");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(e) => {
                    tracing::warn!(kind, attempt, error = %e, "email not sent: giving up");
                    self.metrics.email(kind, "failed");
                    return;
                }
            }
        }
    }

    fn build(&self, outgoing: Outgoing) -> anyhow::Result<Message> {
        Message::builder()
            .from(self.from.clone())
            .to(outgoing.to)
            .subject(outgoing.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(outgoing.body)
            .context("building the message")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: &'static str) -> Outgoing {
        Outgoing {
            kind,
            to: "a@example.com".parse().unwrap(),
            subject: String::new(),
            body: String::new(),
        }
    }

    #[test]
    fn email_changes_never_take_the_reserved_slots() {
        let (queue, rx) = mpsc::channel(QUEUE);
        let mailer = Mailer {
            queue,
            metrics: Metrics::new().unwrap(),
        };
        for _ in 0..QUEUE {
            mailer.enqueue_unreserved(message("change_notice"));
        }
        assert_eq!(rx.len(), QUEUE - RESERVED);
        for _ in 0..RESERVED {
            mailer.enqueue(message("reset"));
        }
        assert_eq!(rx.len(), QUEUE);
    }
}
