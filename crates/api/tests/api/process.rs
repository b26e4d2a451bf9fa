//! authd as a separate process: one-shot commands ([`Running`]) and servers ([`Server`])
//! for replica, crash and logging tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Db, Http, PgDatabase, SECRET};

/// `authd` with a clean environment: only `PATH`, `LOG_FORMAT=json` and `vars`, run in
/// `dir` so that no stray `.env` is read.
pub fn authd(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
    command
        .env_clear()
        .current_dir(dir)
        .env("LOG_FORMAT", "json");
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

/// What `authd` printed when one setting stopped its start: its one line, and all of
/// stderr.
pub struct Refused {
    pub line: String,
    pub stderr: String,
}

/// Starts `authd` in `dir` with a working configuration but `key=value`, which must stop
/// the start: a failed exit, no panic, and exactly one line on stderr, returned for the
/// caller to check that it names the key. Were the value accepted, authd would serve and
/// the bounded wait would fail the test.
pub fn refused_start(dir: &Path, key: &str, value: &str) -> Refused {
    let data_dir = dir.display().to_string();
    let url = format!("sqlite://{data_dir}/auth.db");
    let mut vars = vec![
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATA_DIR", data_dir.as_str()),
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", SECRET),
        ("HTTP_WORKERS", "1"),
    ];
    vars.retain(|(k, _)| *k != key);
    vars.push((key, value));
    let done = Running::start(&mut authd(dir, &vars), None).wait(Duration::from_secs(60));
    let what = format!("{key}={value}");
    assert!(!done.status.success(), "{what}: {}", done.status);
    assert!(!done.stderr.contains("panicked"), "{what}: {}", done.stderr);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {:?}", done.stderr);
    Refused {
        line: lines[0].to_owned(),
        stderr: done.stderr.clone(),
    }
}

/// A child process that is always killed, even when an assertion fails first.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    pub fn start(command: &mut Command, stdin: Option<&str>) -> Self {
        let mut child = command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start authd");
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let mut running = Self {
            child,
            stdout,
            stderr,
        };
        if let Some(input) = stdin {
            let mut pipe = running.child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).expect("write stdin");
            // Dropping the pipe closes it: the child sees the end of its input.
        }
        running
    }

    /// Waits for the child to exit, at most `limit` (then it is killed and this panics).
    pub fn wait(mut self, limit: Duration) -> Finished {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(waited < limit, "authd did not exit within {limit:?}");
            std::thread::sleep(step);
            waited += step;
        };
        self.finish(status)
    }

    /// Kills the child and collects what it printed.
    pub fn stop(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        self.finish(status)
    }

    fn finish(&mut self, status: ExitStatus) -> Finished {
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Finished {
            status,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Harmless when it has already exited and been waited for.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A serving `authd` process on a random port. Its log (stderr, JSON lines) is collected;
/// it is killed when dropped.
pub struct Server {
    child: Child,
    pub http: Http,
    log: Arc<Mutex<String>>,
}

impl std::ops::Deref for Server {
    type Target = Http;

    fn deref(&self) -> &Http {
        &self.http
    }
}

impl Server {
    /// Starts `authd` in `dir` with `vars` (plus `BIND_ADDR=127.0.0.1:0`) and waits, at most
    /// a minute, for it to say which port it listens on.
    pub async fn start(dir: &Path, vars: &[(String, String)]) -> Server {
        let dir = dir.to_owned();
        let vars = vars.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            vars.push(("BIND_ADDR", "127.0.0.1:0"));
            let mut child = authd(&dir, &vars)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start authd");
            let stderr = child.stderr.take().expect("stderr");
            let log = Arc::new(Mutex::new(String::new()));
            let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(event) = serde_json::from_str::<Value>(&line)
                        && event["message"] == "authd listening"
                        && let Some(port) = event["port"].as_u64()
                    {
                        let _ = port_tx.send(port as u16);
                    }
                    let mut log = sink.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(port) => port,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("authd did not start listening: {}", log.lock().unwrap());
                }
            };
            Server {
                child,
                http: Http::new(format!("http://127.0.0.1:{port}")),
                log,
            }
        })
        .await
        .unwrap()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `INT`) as an orchestrator or a terminal would.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name}");
    }

    /// Waits (bounded) for the process to exit by itself; `None` if it has not.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush; what was acknowledged must already be durable.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `(key, value)` pairs as [`Server::start`] takes them.
pub fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A store for `authd` processes: a temporary folder (their `DATA_DIR`, and the database
/// on SQLite) and, on PostgreSQL, a fresh database dropped with it.
pub struct ProcessStore {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    _pg: Option<PgDatabase>,
}

impl ProcessStore {
    pub async fn new(db: Db) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = match db {
            Db::Postgres => Some(PgDatabase::create().await),
            Db::Sqlite => None,
        };
        let database_url = match &pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite://{}/auth.db", dir.path().display()),
        };
        Self {
            dir,
            database_url,
            _pg: pg,
        }
    }

    /// `DATABASE_URL`, the test `JWT_SECRET`, no registration limit, and `extra`.
    pub fn vars(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        // Tests register more users from 127.0.0.1 than the default per-address limit allows.
        let mut all = vars(&[
            ("DATABASE_URL", &self.database_url),
            ("JWT_SECRET", SECRET),
            ("REGISTER_RATE_PER_ADDRESS", "off"),
        ]);
        all.extend(vars(extra));
        all
    }

    /// A serving `authd` on this store.
    pub async fn start(&self, extra: &[(&str, &str)]) -> Server {
        Server::start(self.dir.path(), &self.vars(extra)).await
    }
}
