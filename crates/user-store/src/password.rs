//! Argon2id password hashing on a fixed set of threads behind a bounded queue, each thread
//! with its own working memory for life.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::StoreError;
use crate::strength::check_password_strength;

/// How the hasher is sized: `threads` hashes run at once (each holds `m_cost` KiB, 19 MiB
/// by default) and at most `queue` more wait for a thread. Past that, work is refused with
/// [`StoreError::Busy`] at once, so a flood of logins costs bounded memory and bounded
/// waiting instead of an ever-growing backlog.
#[derive(Debug, Clone)]
pub struct HasherOptions {
    pub params: Params,
    pub threads: usize,
    pub queue: usize,
    /// Nice levels the hashing threads run below the thread that creates them (Linux; the
    /// result is capped at 19, the lowest priority; 0: the same priority). Under a login
    /// flood the scheduler then gives the cores to the HTTP workers first, so token checks
    /// keep their latency while hashing takes what is left.
    pub nice: u8,
}

/// Argon2id hashing off the async workers, on `threads` dedicated threads fed by a bounded
/// queue (see [`HasherOptions`]).
///
/// Unknown users are "verified" against a dummy hash with the same parameters, so a login
/// for a name that does not exist costs the same time as a wrong password.
///
/// Cheap to clone: clones share the threads, which stop when the last clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon: Argon2<'static>,
    params: Params,
    jobs: SyncSender<Job>,
    /// Jobs accepted but not yet started.
    waiting: Arc<AtomicUsize>,
    dummy_hash: String,
}

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// Argon2's working memory (`m_cost` blocks of 1 KiB), owned by one hashing thread for its
/// whole life. Allocating 19 MiB per hash instead lets the allocator scatter those blocks
/// over its per-thread arenas and keep them all: measured, a 500-client login flood grew
/// the process to 280 MiB with 2 threads; with one buffer per thread memory is exactly
/// `threads × m_cost`.
struct Workspace {
    blocks: Vec<Block>,
    /// The configured size; a larger legacy hash borrows more and gives it back.
    usual: usize,
}

impl Workspace {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }

    /// After a hash stored with a larger `m_cost` than configured: back to the usual size.
    fn shrink(&mut self) {
        if self.blocks.len() > self.usual {
            self.blocks.truncate(self.usual);
            self.blocks.shrink_to_fit();
        }
    }
}

impl PasswordHasher {
    /// OWASP's minimum for Argon2id: m = 19456 KiB, t = 2, p = 1.
    pub fn owasp_params() -> Params {
        Params::new(19_456, 2, 1, None).expect("valid argon2 parameters")
    }

    pub fn new(options: HasherOptions) -> Self {
        let params = options.params;
        // Any salt and output will do: only the cost of computing the hash matters.
        let dummy_hash = format!(
            "$argon2id$v=19$m={},t={},p={}$ZHVtbXlzYWx0ZHVtbXlzYWx0$ZHVtbXloYXNoZHVtbXloYXNoZHVtbXloYXNoZHVtbXk",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(options.queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let usual = params.block_count();
        for i in 0..options.threads.max(1) {
            let receiver = receiver.clone();
            // A thread that cannot be spawned leaves fewer workers; the queue still bounds
            // the backlog, and with none at all every job fails rather than hangs.
            let nice = options.nice;
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    if let Err(e) = lower_priority(nice) {
                        tracing::warn!(error = %e, nice, "cannot lower a password hashing thread's priority");
                    }
                    run_jobs(&receiver, usual)
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            inner: Arc::new(Inner {
                argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
                params,
                jobs,
                waiting: Arc::new(AtomicUsize::new(0)),
                dummy_hash,
            }),
        }
    }

    /// Hashes a password into a PHC string with the configured parameters and a random
    /// 128-bit salt.
    pub async fn hash(&self, password: SecretString) -> Result<String, StoreError> {
        let (argon, params) = (self.inner.argon.clone(), self.inner.params.clone());
        self.run(move |workspace| hash_in(workspace, &argon, &params, &password))
            .await
    }

    /// Judges a new password ([`check_password_strength`], for `username`) and, if it
    /// passes, hashes it, both in one job on a hashing thread: the estimate costs a few
    /// milliseconds of CPU, kept off the async workers and behind the same bounded queue
    /// (a full queue is [`StoreError::Busy`]). A weak password is
    /// [`StoreError::WeakPassword`].
    pub async fn hash_new(
        &self,
        password: SecretString,
        username: &str,
    ) -> Result<String, StoreError> {
        let (argon, params) = (self.inner.argon.clone(), self.inner.params.clone());
        let username = username.to_owned();
        self.run(move |workspace| {
            if let Err(weak) = check_password_strength(password.expose_secret(), &username) {
                return Ok(Err(weak));
            }
            hash_in(workspace, &argon, &params, &password).map(Ok)
        })
        .await?
        .map_err(StoreError::WeakPassword)
    }

    /// Verifies `password` against `stored` (a PHC string), or against the dummy hash
    /// when there is no user, so both cost the same. `false` for no user.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, StoreError> {
        let exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.inner.dummy_hash.clone());
        let matched = self
            .run(move |workspace| {
                let matched = verify_in(workspace, password.expose_secret().as_bytes(), &hash);
                workspace.shrink();
                matched
            })
            .await?;
        Ok(exists && matched)
    }

    /// Whether a stored hash was made with other settings than the configured ones (another
    /// algorithm or version, or other costs), so it should be replaced at the next
    /// successful login.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let wanted = self.inner.argon.params();
        let same_params = Params::try_from(&parsed).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                == (wanted.m_cost(), wanted.t_cost(), wanted.p_cost())
        });
        parsed.algorithm.as_str() != "argon2id"
            || parsed.version != Some(Version::V0x13.into())
            || !same_params
    }

    /// Jobs accepted and waiting for a thread (not counting those running).
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Queues `work` for a hashing thread, or refuses it at once when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let waiting = self.inner.waiting.clone();
        let job: Job = Box::new(move |workspace| {
            waiting.fetch_sub(1, Ordering::Relaxed);
            // A requester that has gone (client disconnected, request deadline passed) no
            // longer wants the answer: skip 16 ms of hashing, which matters in a flood.
            if done.is_closed() {
                return;
            }
            let _ = done.send(work(workspace));
        });
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        if let Err(refused) = self.inner.jobs.try_send(job) {
            self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(match refused {
                TrySendError::Full(_) => StoreError::Busy,
                TrySendError::Disconnected(_) => {
                    anyhow::anyhow!("no password hashing thread is running").into()
                }
            });
        }
        let result = result
            .await
            .context("the password hashing job was lost")??;
        Ok(result)
    }
}

/// Argon2id of `password` with a fresh random 128-bit salt, as a PHC string.
fn hash_in(
    workspace: &mut Workspace,
    argon: &Argon2<'static>,
    params: &Params,
    password: &SecretString,
) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow!("no randomness for a salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(
            password.expose_secret().as_bytes(),
            &salt,
            &mut out,
            workspace.blocks(params.block_count()),
        )
        .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| anyhow!("argon2 parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow!("salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// The largest costs a stored hash may ask for: 1 GiB, 32 passes, 16 lanes; far above any
/// sane setting, far below what would take the server down. The configuration is bounded
/// by the same values, so every hash authd makes can be verified again.
pub const MAX_HASH_MEMORY_KIB: u32 = 1 << 20;
pub const MAX_HASH_ITERATIONS: u32 = 32;
const MAX_STORED_M_COST_KIB: u32 = MAX_HASH_MEMORY_KIB;
const MAX_STORED_T_COST: u32 = MAX_HASH_ITERATIONS;
const MAX_STORED_P_COST: u32 = 16;

/// Checks `password` against a PHC string with the string's own algorithm, version and
/// costs (so hashes made with older settings still verify), in `workspace`'s memory; the
/// comparison is constant-time.
fn verify_in(workspace: &mut Workspace, password: &[u8], stored: &str) -> anyhow::Result<bool> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow!("stored hash is not a PHC string: {e}"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|e| anyhow!("stored hash algorithm: {e}"))?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| anyhow!("stored hash version: {e}"))?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(|e| anyhow!("stored hash parameters: {e}"))?;
    // A stored hash decides what its check costs: refuse absurd costs rather than abort
    // the process on an allocation failure or pin a hashing thread for hours.
    if params.m_cost() > MAX_STORED_M_COST_KIB
        || params.t_cost() > MAX_STORED_T_COST
        || params.p_cost() > MAX_STORED_P_COST
    {
        return Err(anyhow!(
            "stored hash costs m={} KiB, t={}, p={} exceed what this server will run \
             (m <= {MAX_STORED_M_COST_KIB}, t <= {MAX_STORED_T_COST}, p <= {MAX_STORED_P_COST})",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(anyhow!("stored hash has no salt or output"));
    };
    let expected = expected.as_bytes();
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            password,
            salt.as_ref(),
            out,
            workspace.blocks(params.block_count()),
        )
        .map_err(|e| anyhow!("argon2 verification failed: {e}"))?;
    Ok(bool::from(out.ct_eq(expected)))
}

/// Lowers the calling thread's scheduling priority by `increment` nice levels, capped at
/// 19. On Linux the nice value belongs to each thread, not to the process (setpriority(2),
/// BUGS: "the nice value is a per-thread attribute"), so the thread's own id changes this
/// thread only; raising a nice value needs no privilege.
#[cfg(target_os = "linux")]
fn lower_priority(increment: u8) -> std::io::Result<()> {
    if increment == 0 {
        return Ok(());
    }
    // SAFETY: gettid, getpriority and setpriority take plain integers and touch no memory
    // of ours; errno is this thread's own.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        // getpriority may return -1 as a nice value: only errno tells a failure apart.
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        if current == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let lowered = (current + i32::from(increment)).min(19);
        if libc::setpriority(libc::PRIO_PROCESS, tid, lowered) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Elsewhere the hashing threads keep the priority they are born with.
#[cfg(not(target_os = "linux"))]
fn lower_priority(_increment: u8) -> std::io::Result<()> {
    Ok(())
}

/// A hashing thread: takes jobs until every sender is gone, lending each its working
/// memory. A job that panics loses only itself (its requester sees the job lost), not the
/// thread.
fn run_jobs(receiver: &Mutex<Receiver<Job>>, usual: usize) {
    let mut workspace = Workspace {
        blocks: Vec::new(),
        usual,
    };
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|p| p.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut workspace)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Cheap parameters: these tests are about behaviour, not cost.
    fn cheap() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    fn hasher(threads: usize, queue: usize) -> PasswordHasher {
        PasswordHasher::new(HasherOptions {
            params: cheap(),
            threads,
            queue,
            nice: 0,
        })
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hasher(2, 4);
        let hash = h
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(
            h.verify(
                SecretString::from("correct horse battery"),
                Some(hash.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !h.verify(SecretString::from("wrong horse battery"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_new_password_is_judged_before_it_is_hashed() {
        let h = hasher(1, 1);
        let weak = h.hash_new(SecretString::from("password123"), "bob").await;
        assert!(matches!(weak, Err(StoreError::WeakPassword(_))), "{weak:?}");
        let named = h.hash_new(SecretString::from("alice1234"), "alice").await;
        assert!(
            matches!(named, Err(StoreError::WeakPassword(_))),
            "{named:?}"
        );
        let hash = h
            .hash_new(SecretString::from("correct horse battery staple"), "bob")
            .await
            .unwrap();
        assert!(
            h.verify(
                SecretString::from("correct horse battery staple"),
                Some(hash)
            )
            .await
            .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(
            !hasher(1, 1)
                .verify(SecretString::from("anything"), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_default_parameters_are_owasps() {
        let p = PasswordHasher::owasp_params();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
    }

    #[tokio::test]
    async fn hashes_made_with_other_settings_need_a_rehash() {
        let old = hasher(1, 1)
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        let current = PasswordHasher::new(HasherOptions {
            params: Params::new(2048, 1, 1, None).unwrap(),
            threads: 1,
            queue: 1,
            nice: 0,
        });
        assert!(current.needs_rehash(&old));
        // Verification uses the stored parameters, so the old hash still verifies.
        assert!(
            current
                .verify(SecretString::from("correct horse battery"), Some(old))
                .await
                .unwrap()
        );
        let fresh = current
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(!current.needs_rehash(&fresh));
        assert!(
            current.needs_rehash("$argon2i$v=19$m=2048,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
        );
        assert!(current.needs_rehash("not a PHC string"));
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_hasher() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher(1, 1);
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, cheap());
        let ours = h
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(
            reference
                .verify_password(b"correct horse battery", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        assert!(
            reference
                .verify_password(b"wrong horse battery", &PasswordHash::new(&ours).unwrap())
                .is_err()
        );
        let theirs = reference
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(
            h.verify(
                SecretString::from("correct horse battery"),
                Some(theirs.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !h.verify(SecretString::from("wrong horse battery"), Some(theirs))
                .await
                .unwrap()
        );
        // Two hashes of one password differ (random salts).
        let again = h
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert_ne!(ours, again);
        // argon2i and a larger memory cost than configured still verify (legacy hashes).
        let legacy = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        assert!(
            h.verify(SecretString::from("correct horse battery"), Some(legacy))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let h = hasher(1, 1);
        for stored in [
            "",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
            "$md5$whatever",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$argon2id$v=19$m=1024,t=100000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        ] {
            assert!(
                h.verify(SecretString::from("x"), Some(stored.to_owned()))
                    .await
                    .is_err(),
                "{stored}"
            );
        }
    }

    /// Gives the one hashing thread a job that holds it until `release` is sent; returns
    /// once the thread has taken it (the queue is empty again).
    async fn occupy_the_thread(
        h: &PasswordHasher,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (started, running_now) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn({
            let h = h.clone();
            async move {
                h.run(move |_| {
                    let _ = started.send(());
                    blocked.recv().ok();
                    Ok(())
                })
                .await
            }
        });
        running_now.await.unwrap();
        (release, running)
    }

    /// Polls (at most 5 s) until `n` jobs wait for a thread.
    async fn wait_until_waiting(h: &PasswordHasher, n: usize) {
        for _ in 0..1000 {
            if h.waiting() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_work_at_once_and_recovers() {
        // One thread, one queue slot: block the thread, fill the slot, and the next job is
        // refused without waiting.
        let h = hasher(1, 1);
        let (release, running) = occupy_the_thread(&h).await;
        let queued = tokio::spawn({
            let h = h.clone();
            async move { h.hash(SecretString::from("queued password")).await }
        });
        wait_until_waiting(&h, 1).await;
        assert_eq!(h.waiting(), 1);
        let refused = h.hash(SecretString::from("one too many")).await;
        assert!(matches!(refused, Err(StoreError::Busy)), "{refused:?}");

        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
        assert_eq!(h.waiting(), 0);
        h.hash(SecretString::from("after the flood")).await.unwrap();
    }

    #[tokio::test]
    async fn a_queued_job_whose_requester_has_gone_is_skipped() {
        use std::sync::atomic::AtomicBool;
        let h = hasher(1, 2);
        let (release, running) = occupy_the_thread(&h).await;
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = tokio::spawn({
            let (h, ran) = (h.clone(), ran.clone());
            async move {
                h.run(move |_| {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }
        });
        wait_until_waiting(&h, 1).await;
        abandoned.abort();
        let _ = abandoned.await;
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        // The thread is free again once it has passed over the abandoned job.
        h.hash(SecretString::from("after the abandoned job"))
            .await
            .unwrap();
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job was skipped");
    }

    #[tokio::test]
    async fn a_panicking_job_loses_only_itself() {
        let h = hasher(1, 1);
        let lost = h.run::<()>(|_| panic!("boom")).await;
        assert!(matches!(lost, Err(StoreError::Unexpected(_))));
        h.hash(SecretString::from("still working")).await.unwrap();
    }

    /// The calling thread's nice value, as the kernel reports it (field 19 of
    /// /proc/thread-self/stat, proc(5)); read independently of how it was set.
    #[cfg(target_os = "linux")]
    fn thread_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Fields after the command name (which may hold spaces) start at field 3.
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        after_name
            .split_whitespace()
            .nth(19 - 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_the_configured_niceness() {
        // A hashing thread starts at its creator's nice value (this thread's).
        let base = thread_nice();
        for (nice, expected) in [(0, base), (7, (base + 7).min(19)), (19, 19)] {
            let h = PasswordHasher::new(HasherOptions {
                params: cheap(),
                threads: 2,
                queue: 2,
                nice,
            });
            for _ in 0..4 {
                let seen = h.run(|_| Ok(thread_nice())).await.unwrap();
                assert_eq!(seen, expected, "PASSWORD_HASH_NICE {nice} from nice {base}");
            }
        }
        assert_eq!(
            thread_nice(),
            base,
            "the caller's own priority is left alone"
        );
    }
}
