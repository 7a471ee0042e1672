//! The store's one writer: a thread that owns the [`Store`] and the
//! [`Intake`] and takes verified, parsed webhooks one at a time. For each
//! event it decides against the consent ledger, identity map and keyrings
//! it keeps in memory (reloaded from the store whenever another process
//! has committed to it), fetches and seals media, and commits the event as
//! one transaction. Only when every event of the body is committed does
//! the HTTP handler answer 200.

use std::sync::mpsc;
use std::thread::JoinHandle;

use caduceus_core::consent::{ConsentPolicy, Ledger};
use caduceus_core::rand_core::UnwrapErr;
use caduceus_core::whatsapp::{
    Decision, IdentityMap, Intake, IntakeConfig, KeyringSet, MediaPlan, Reply, Webhook,
};
use caduceus_store::{Committed, Delivery, Store, StoreError};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::config::{Config, Notice};
use crate::graph::GraphClient;
use crate::{ServerError, log, now_unix};

/// What one webhook body came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Events in the body.
    pub events: usize,
    /// Events committed now.
    pub stored: usize,
    /// Events already committed earlier (Meta's redeliveries).
    pub duplicates: usize,
    /// Media that could not be fetched or did not match its hash: not
    /// committed; the body is answered 503 so that Meta redelivers it.
    pub media_failed: usize,
    /// Replies to send: (the practice's phone number id, the reply).
    pub replies: Vec<(Option<String>, Reply)>,
    /// The decision codes of the committed events, in order.
    pub decisions: Vec<&'static str>,
}

pub(crate) struct Job {
    pub hook: Webhook,
    pub received_at: i64,
    pub reply: oneshot::Sender<Result<Outcome, ServerError>>,
}

/// The handle the HTTP side holds.
pub(crate) struct WriterHandle {
    pub jobs: mpsc::SyncSender<Job>,
    pub thread: JoinHandle<()>,
}

struct Writer {
    store: Store,
    intake: Intake,
    notice: Notice,
    ledger: Ledger,
    identities: IdentityMap,
    keyrings: KeyringSet,
    version: i64,
    graph: GraphClient,
    runtime: Handle,
    fetch_attempts: u32,
}

/// A consent ledger with the configured notice registered.
pub(crate) fn notice_ledger(notice: &Notice, now: i64) -> Result<Ledger, ServerError> {
    let mut l = Ledger::new(ConsentPolicy::default())
        .map_err(|e| ServerError::Config(format!("consent policy: {e}")))?;
    l.register_notice(
        &notice.id,
        notice.version,
        &notice.language,
        &notice.text,
        notice.published_at,
        now.max(notice.published_at),
    )
    .map_err(|e| ServerError::Config(format!("notice: {e}")))?;
    Ok(l)
}

/// The consent ledger as the store holds it: the notice registered, then
/// every stored consent event appended in order.
pub(crate) fn ledger_from_store(
    notice: &Notice,
    store: &Store,
    now: i64,
) -> Result<Ledger, ServerError> {
    let mut ledger = notice_ledger(notice, now)?;
    for e in store.consent_events()? {
        ledger
            .append(e, now)
            .map_err(|e| ServerError::Store(StoreError::Consent(e)))?;
    }
    Ok(ledger)
}

/// Build the intake for `config` (also what `serve --check` validates).
pub(crate) fn intake_for(config: &Config, now: i64) -> Result<Intake, ServerError> {
    let ledger = notice_ledger(&config.notice, now)?;
    let notice = ledger
        .notices()
        .first()
        .map(|n| n.reference())
        .ok_or_else(|| ServerError::Config("notice: not registered".into()))?;
    let ic = IntakeConfig::new(config.practice, config.staff.clone(), notice);
    Ok(Intake::new(
        config.pseudonym_key.clone(),
        &config.policy,
        ic,
    )?)
}

impl Writer {
    fn reload(&mut self) -> Result<(), ServerError> {
        self.ledger = ledger_from_store(&self.notice, &self.store, now_unix())?;
        self.identities = self.store.identity_map()?;
        self.keyrings = self.store.keyrings()?;
        self.version = self.store.data_version()?;
        Ok(())
    }

    /// Reload the cached state if another connection committed.
    fn refresh(&mut self) -> Result<(), ServerError> {
        if self.store.data_version()? != self.version {
            self.reload()?;
        }
        Ok(())
    }

    /// Fetch the media of `plan` and seal it as it arrives.
    fn fetch(&self, plan: &MediaPlan) -> Result<Vec<u8>, ServerError> {
        let mut rng = UnwrapErr(getrandom::SysRng);
        let (mut sealed, mut sealer) = plan.begin_seal(&mut rng)?;
        self.runtime.block_on(async {
            let url = self.graph.media_url(&plan.media.id).await?;
            self.graph
                .download(&url, plan.max_size, |chunk| {
                    sealer.push(chunk, &mut sealed).map_err(ServerError::Media)
                })
                .await
        })?;
        sealer.finish(&mut sealed)?;
        Ok(sealed)
    }

    fn fetch_with_retries(&self, plan: &MediaPlan) -> Result<Vec<u8>, ServerError> {
        let mut last = None;
        for attempt in 1..=self.fetch_attempts {
            match self.fetch(plan) {
                Ok(sealed) => return Ok(sealed),
                Err(e) => {
                    log::warn(
                        "media-fetch-failed",
                        &[
                            ("attempt", u64::from(attempt).into()),
                            ("error", e.code().into()),
                        ],
                    );
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(ServerError::Graph("no fetch attempt".into())))
    }

    fn take(&mut self, hook: &Webhook, now: i64) -> Result<Outcome, ServerError> {
        let mut out = Outcome {
            events: hook.events.len(),
            ..Outcome::default()
        };
        let mut rng = UnwrapErr(getrandom::SysRng);
        for event in &hook.events {
            self.refresh()?;
            let d: Decision = self.intake.decide(
                event,
                &self.ledger,
                &self.identities,
                &self.keyrings,
                now,
                &mut rng,
            )?;
            if let Some(k) = &d.dedupe_key
                && self.store.seen(k)?
            {
                out.duplicates += 1;
                continue;
            }
            let mut delivery = Delivery::from_decision(&d, now);
            if let Some(plan) = &d.media {
                match self.fetch_with_retries(plan) {
                    Ok(sealed) => delivery = delivery.with_media(plan, sealed),
                    Err(e) => {
                        // Nothing of this event is committed but the
                        // failure's audit entry; Meta redelivers the body
                        // (the 503) and the event is decided afresh.
                        let failed = Delivery::new(now).with_media_failed(plan, e.code())?;
                        self.store.commit_delivery(&failed)?;
                        out.media_failed += 1;
                        continue;
                    }
                }
            }
            match self.store.commit_delivery(&delivery)? {
                Committed::Duplicate => out.duplicates += 1,
                _ => {
                    out.stored += 1;
                    out.decisions.push(d.kind.code());
                    if d.apply(
                        &mut self.ledger,
                        &mut self.identities,
                        &mut self.keyrings,
                        now,
                    )
                    .is_err()
                    {
                        // The store is the truth: read it again.
                        self.reload()?;
                    }
                    for r in d.replies {
                        out.replies.push((event.phone_number_id.clone(), r));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Open the store, load its state and start the writer thread.
pub(crate) fn start(
    config: &Config,
    graph: GraphClient,
    runtime: Handle,
) -> Result<WriterHandle, ServerError> {
    let store = Store::open(&config.store)?;
    let now = now_unix();
    let mut w = Writer {
        store,
        intake: intake_for(config, now)?,
        notice: config.notice.clone(),
        ledger: notice_ledger(&config.notice, now)?,
        identities: IdentityMap::new(),
        keyrings: KeyringSet::new(),
        version: 0,
        graph,
        runtime,
        fetch_attempts: config.graph.fetch_attempts,
    };
    w.reload()?;
    // A small queue: the HTTP side bounds requests in flight as well.
    let (tx, rx) = mpsc::sync_channel::<Job>(config.max_in_flight);
    let thread = std::thread::Builder::new()
        .name("caduceus-store-writer".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                let result = w.take(&job.hook, job.received_at);
                let _ = job.reply.send(result);
            }
            // Every sender is gone: the server is shutting down. Dropping
            // the store closes the database (WAL checkpoint).
            drop(w);
        })
        .map_err(|e| ServerError::Io {
            what: "cannot start the store writer thread".into(),
            source: e,
        })?;
    Ok(WriterHandle { jobs: tx, thread })
}
