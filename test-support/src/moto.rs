//! A real moto server (`moto[server]==5.2.5`) per test.
//!
//! [`moto_server_path`] finds the `moto_server` executable: the one named by the environment
//! variable `ALBATROSS_MOTO_SERVER` when it is set, else the one in a virtualenv at
//! `<workspace target dir>/moto-venv`, which it creates on first use with `python3 -m venv`
//! (`ALBATROSS_PYTHON` overrides the interpreter) and `pip install -r moto-requirements.txt`.
//! An exclusive file lock (`<target>/moto-venv.lock`) makes parallel test binaries and threads
//! install once; a marker file in the venv holds the requirements it was built from, so a
//! changed pin reinstalls.
//!
//! [`Moto::start`] launches one server on a free loopback port and waits until it answers;
//! dropping the [`Moto`] kills it. Each test starts its own, so parallel tests share no state.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pinned requirements (moto and every transitive dependency), compiled in so the
/// install does not depend on the working directory of the test binary.
pub const REQUIREMENTS: &str = include_str!("../moto-requirements.txt");

/// How long [`Moto::start`] waits for one server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many ports [`Moto::start`] tries before giving up.
const START_ATTEMPTS: usize = 5;

/// Path of the `moto_server` executable: `$ALBATROSS_MOTO_SERVER` if set and non-empty, else
/// `<target>/moto-venv/bin/moto_server`, installing the venv first if it is missing or was
/// built from other requirements. Panics with pip's output when the install fails.
pub fn moto_server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ALBATROSS_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| ensure_venv(&target_dir())).clone()
}

/// The workspace's target directory: `$CARGO_TARGET_DIR` (relative paths are taken from the
/// workspace root), else `<workspace root>/target`. The workspace root is the parent of this
/// crate's manifest directory, fixed at compile time, so every crate's tests (including the
/// root package's) agree on one venv.
pub fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("test-support has a parent directory");
    match std::env::var_os("CARGO_TARGET_DIR").filter(|p| !p.is_empty()) {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

fn ensure_venv(target: &Path) -> PathBuf {
    fs::create_dir_all(target).unwrap_or_else(|e| panic!("cannot create {}: {e}", target.display()));
    let lock_path = target.join("moto-venv.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    lock.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));

    let venv = target.join("moto-venv");
    let server = venv.join("bin").join("moto_server");
    let marker = venv.join(".albatross-requirements");
    if server.exists() && fs::read_to_string(&marker).is_ok_and(|m| m == REQUIREMENTS) {
        return server;
    }

    if venv.exists() {
        fs::remove_dir_all(&venv).unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", venv.display()));
    }
    let python = std::env::var("ALBATROSS_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!("albatross-test-support: installing moto into {} (once)", venv.display());
    run(Command::new(&python).arg("-m").arg("venv").arg(&venv), "python3 -m venv");
    let requirements = venv.join("moto-requirements.txt");
    fs::write(&requirements, REQUIREMENTS).unwrap_or_else(|e| panic!("cannot write {}: {e}", requirements.display()));
    run(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "-q", "-r"])
            .arg(&requirements),
        "pip install -r moto-requirements.txt",
    );
    if !server.exists() {
        panic!("pip installed moto but {} does not exist", server.display());
    }
    fs::write(&marker, REQUIREMENTS).unwrap_or_else(|e| panic!("cannot write {}: {e}", marker.display()));
    server
    // `lock` is released when dropped here.
}

fn run(command: &mut Command, what: &str) {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}); set ALBATROSS_MOTO_SERVER to an installed moto_server to skip the install\n\
             --- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A running moto server, killed on drop.
pub struct Moto {
    endpoint: String,
    port: u16,
    child: Child,
    log_path: PathBuf,
    dir: Option<tempfile::TempDir>,
}

enum Startup {
    Ready,
    Exited(String),
    TimedOut,
}

impl Moto {
    /// Starts a moto server on a free `127.0.0.1` port with `MOTO_ACM_VALIDATION_WAIT=0` and
    /// waits (up to 30 s) until it answers `GET /moto-api/`. Retries on another port when the
    /// chosen one was taken meanwhile. Blocking: callable from sync tests and from
    /// `#[tokio::test]` (it blocks the test thread for about a second). Panics with the
    /// server's log when it cannot start.
    pub fn start() -> Moto {
        let server = moto_server_path();
        let dir = tempfile::Builder::new()
            .prefix("albatross-moto-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_path = dir.path().join(format!("moto-{port}.log"));
            let log = File::create(&log_path).unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_ACM_VALIDATION_WAIT", "0")
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", server.display()));
            match wait_ready(&mut child, port) {
                Startup::Ready => {
                    return Moto {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        port,
                        child,
                        log_path,
                        dir: Some(dir),
                    };
                }
                Startup::Exited(status) => {
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    let port_taken = log.contains("Address already in use") || log.contains("is in use");
                    failures.push(format!("port {port}: moto_server exited ({status})\n{log}"));
                    if !port_taken {
                        break;
                    }
                }
                Startup::TimedOut => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    failures.push(format!("port {port}: no answer within {START_TIMEOUT:?}\n{log}"));
                }
            }
        }
        panic!("moto did not start ({}):\n{}", server.display(), failures.join("\n----\n"));
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The file holding the server's stdout and stderr (deleted with the [`Moto`] unless the
    /// thread is panicking, when it is kept and its path printed).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Clears all of moto's state (`POST /moto-api/reset`). Panics if moto does not answer 200.
    pub fn reset(&self) {
        let (status, body) = http_request(self.port, "POST", "/moto-api/reset", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("POST /moto-api/reset on {}: {e}", self.endpoint));
        assert_eq!(status, 200, "POST /moto-api/reset on {} answered {status}: {body}", self.endpoint);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "moto log kept at {} (dir {}); last lines:\n{}",
                self.log_path.display(),
                kept.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

fn free_port() -> u16 {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    listener.local_addr().expect("local addr").port()
}

fn wait_ready(child: &mut Child, port: u16) -> Startup {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Startup::Exited(status.to_string());
        }
        let answered = matches!(http_request(port, "GET", "/moto-api/", Duration::from_secs(2)), Ok((200, _)));
        // Another process may have bound the port between `free_port` and moto's bind; then
        // our child will exit with "Address already in use", but the other server answers.
        if answered && listens_on(child.id(), port) {
            return Startup::Ready;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Startup::TimedOut
}

/// Whether the process `pid` (or one of its descendants, for wrapper scripts) owns the socket
/// listening on 127.0.0.1:`port`. Linux only; elsewhere (no `/proc`) assumes yes.
fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else { return true };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            (fields.len() > 9 && fields[1] == local && fields[3] == "0A").then(|| format!("socket:[{}]", fields[9]))
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let p = pids[i];
        i += 1;
        if let Ok(fds) = fs::read_dir(format!("/proc/{p}/fd")) {
            for fd in fds.flatten() {
                if let Ok(link) = fs::read_link(fd.path())
                    && inodes.iter().any(|inode| link.as_os_str() == inode.as_str())
                {
                    return true;
                }
            }
        }
        if let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                if let Ok(children) = fs::read_to_string(task.path().join("children")) {
                    pids.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
                }
            }
        }
    }
    false
}

/// A minimal blocking HTTP/1.0 request to 127.0.0.1:`port` with an empty body: (status, body).
fn http_request(port: u16, method: &str, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {text:.200}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_pin_moto() {
        assert!(REQUIREMENTS.lines().any(|l| l.trim() == "moto[server]==5.2.5"));
        for line in REQUIREMENTS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            assert!(line.contains("=="), "unpinned requirement: {line}");
        }
    }

    #[test]
    fn target_dir_is_in_the_workspace() {
        if std::env::var_os("CARGO_TARGET_DIR").is_none() {
            assert!(target_dir().ends_with("target"));
            assert!(target_dir().parent().unwrap().join("Cargo.toml").exists());
        }
    }

    #[test]
    fn starts_answers_resets_and_stops() {
        let moto = Moto::start();
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        moto.reset();
        let port = moto.port();
        drop(moto);
        assert!(http_request(port, "GET", "/moto-api/", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn parallel_starts_get_distinct_servers() {
        let handles: Vec<_> = (0..3).map(|_| std::thread::spawn(Moto::start)).collect();
        let motos: Vec<Moto> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let mut ports: Vec<u16> = motos.iter().map(Moto::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 3);
    }
}
