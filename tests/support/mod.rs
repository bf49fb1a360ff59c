//! Real `redis-server` processes for the tests: started on free loopback
//! ports with persistence off, stopped by pid when dropped (as redis-rs's
//! own test harness does).
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `done` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A body that reports what it read and then waits to be let go: the
/// test runs an invalidation in between.
pub struct Gate {
    read: std::sync::Mutex<Option<std::sync::mpsc::Sender<u64>>>,
    go: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl Gate {
    pub const fn new() -> Gate {
        Gate {
            read: std::sync::Mutex::new(None),
            go: std::sync::Mutex::new(None),
        }
    }

    /// Arms the gate for one body: returns where it reports its read and
    /// what lets it go.
    pub fn arm(&self) -> (std::sync::mpsc::Receiver<u64>, std::sync::mpsc::Sender<()>) {
        let (read_tx, read_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel();
        *self.read.lock().unwrap() = Some(read_tx);
        *self.go.lock().unwrap() = Some(go_rx);
        (read_rx, go_tx)
    }

    /// In the body: reports `value` and waits, if armed.
    pub fn pass(&self, value: u64) {
        let read = self.read.lock().unwrap().take();
        let go = self.go.lock().unwrap().take();
        if let (Some(read), Some(go)) = (read, go) {
            read.send(value).unwrap();
            go.recv_timeout(Duration::from_secs(10)).unwrap();
        }
    }
}

/// The installed backend is process-wide: tests that install one take turns.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs `backend` once its invalidation channel is up.
pub fn install(backend: memo_redis::RedisBackend) {
    wait_until(Duration::from_secs(10), "the invalidation channel", || {
        backend.is_subscribed()
    });
    memo_core::set_backend(backend);
}

/// A free loopback port (and, for cluster nodes, its bus port + 10000).
pub fn free_port(with_bus: bool) -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        if port > 55_000 {
            continue;
        }
        if with_bus && TcpListener::bind(("127.0.0.1", port + 10_000)).is_err() {
            continue;
        }
        return port;
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "memo-test-{tag}-{}-{}",
        std::process::id(),
        free_port(false)
    ));
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    dir
}

/// One `redis-server`.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    args: Vec<String>,
    dir: PathBuf,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra `--name value` arguments.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let port = free_port(extra.contains(&"--cluster-enabled"));
        let dir = scratch_dir("redis");
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--dir",
            dir.to_str().expect("utf-8 temp dir"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let child = spawn_server(&args);
        let server = RedisServer {
            port,
            child,
            args,
            dir,
        };
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A server that also listens for TLS on a second port, with a
    /// certificate for 127.0.0.1 from a CA made for the test; with
    /// `verify_clients`, TLS clients must present a certificate from it too.
    /// The plain port stays open for the harness to inspect the server.
    pub fn start_tls(verify_clients: bool) -> (RedisServer, TestTls) {
        let tls = TestTls::make();
        let path = |name: &str| tls.dir.join(name).to_str().expect("utf-8").to_owned();
        let port = tls.port.to_string();
        let server = Self::start_with(&[
            "--tls-port",
            &port,
            "--tls-cert-file",
            &path("server.crt"),
            "--tls-key-file",
            &path("server.key"),
            "--tls-ca-cert-file",
            &path("ca.crt"),
            "--tls-auth-clients",
            if verify_clients { "yes" } else { "no" },
        ]);
        (server, tls)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("valid url")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("connect to the test server")
    }

    fn wait_ready(&self) {
        wait_until(
            Duration::from_secs(10),
            "redis-server to answer PING",
            || {
                redis::Client::open(self.url())
                    .ok()
                    .and_then(|c| {
                        c.get_connection_with_timeout(Duration::from_millis(200))
                            .ok()
                    })
                    .map(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    // A server with a password answers, with an error.
                    .is_some_and(|answer| match answer {
                        Ok(pong) => pong == "PONG",
                        Err(error) => error.to_string().contains("NOAUTH"),
                    })
            },
        );
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_server(&self.args);
        self.wait_ready();
    }

    /// SIGSTOP: the server holds its connections and answers nothing.
    pub fn freeze(&self) {
        signal("-STOP", self.pid());
    }

    /// SIGCONT.
    pub fn thaw(&self) {
        signal("-CONT", self.pid());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_server(args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/test.sh installs it)")
}

fn signal(signal: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status();
}

/// What a TLS client of [`RedisServer::start_tls`] needs: the port, the CA
/// to trust, and a client certificate and key the server accepts (PEM).
/// Made with the `openssl` command (scripts/test.sh installs it).
pub struct TestTls {
    pub port: u16,
    pub ca: Vec<u8>,
    pub client_cert: Vec<u8>,
    pub client_key: Vec<u8>,
    dir: PathBuf,
}

impl TestTls {
    fn make() -> TestTls {
        let dir = scratch_dir("tls");
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
        write(
            "openssl.cnf",
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = memo test\n\
             [ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier = hash\n",
        );
        let leaf = |usage: &str, san: &str| {
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\n\
                 extendedKeyUsage = {usage}\nauthorityKeyIdentifier = keyid\n{san}"
            )
        };
        write(
            "server.ext",
            &leaf("serverAuth", "subjectAltName = IP:127.0.0.1\n"),
        );
        write("client.ext", &leaf("clientAuth", ""));
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &dir,
            &[
                &[
                    "req",
                    "-x509",
                    "-config",
                    "openssl.cnf",
                    "-extensions",
                    "ca",
                    "-days",
                    "2",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                ][..],
                &key,
            ]
            .concat(),
        );
        for (name, subject) in [
            ("server", "/CN=127.0.0.1"),
            ("client", "/CN=memo-test-client"),
        ] {
            let (csr, keyfile) = (format!("{name}.csr"), format!("{name}.key"));
            let (crt, ext) = (format!("{name}.crt"), format!("{name}.ext"));
            openssl(
                &dir,
                &[
                    &[
                        "req",
                        "-new",
                        "-config",
                        "openssl.cnf",
                        "-subj",
                        subject,
                        "-keyout",
                        &keyfile,
                        "-out",
                        &csr,
                    ][..],
                    &key,
                ]
                .concat(),
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-out",
                    &crt,
                ],
            );
        }
        let read = |name: &str| std::fs::read(dir.join(name)).expect("read");
        TestTls {
            port: free_port(false),
            ca: read("ca.crt"),
            client_cert: read("client.crt"),
            client_key: read("client.key"),
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TestTls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 3-master Redis Cluster, created with `redis-cli --cluster create`.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(status.success(), "redis-cli --cluster create failed");
        for node in &nodes {
            wait_until(Duration::from_secs(20), "cluster_state:ok", || {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut node.client())
                    .unwrap_or_default();
                info.contains("cluster_state:ok")
            });
        }
        RedisCluster { nodes }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A master and one Sentinel monitoring it as `mymaster`.
pub struct RedisSentinel {
    pub master: RedisServer,
    pub sentinel_port: u16,
    sentinel: Child,
    dir: PathBuf,
}

impl RedisSentinel {
    pub const SERVICE: &'static str = "mymaster";

    pub fn start() -> RedisSentinel {
        let master = RedisServer::start();
        let dir = scratch_dir("sentinel");
        let port = free_port(false);
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {}\nsentinel monitor {} 127.0.0.1 {} 1\nsentinel down-after-milliseconds {} 2000\n",
                dir.display(),
                Self::SERVICE,
                master.port,
                Self::SERVICE
            ),
        )
        .expect("write sentinel.conf");
        let sentinel = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let url = format!("redis://127.0.0.1:{port}/");
        wait_until(
            Duration::from_secs(10),
            "sentinel to know the master",
            || {
                redis::Client::open(url.as_str())
                    .ok()
                    .and_then(|c| {
                        c.get_connection_with_timeout(Duration::from_millis(200))
                            .ok()
                    })
                    .and_then(|mut c| {
                        redis::cmd("SENTINEL")
                            .arg("get-master-addr-by-name")
                            .arg(Self::SERVICE)
                            .query::<Vec<String>>(&mut c)
                            .ok()
                    })
                    .is_some_and(|addr| addr.len() == 2)
            },
        );
        RedisSentinel {
            master,
            sentinel_port: port,
            sentinel,
            dir,
        }
    }

    pub fn sentinel_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.sentinel_port)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        let _ = self.sentinel.kill();
        let _ = self.sentinel.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A worker process (`memo-worker`) driven line by line.
pub struct Worker {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Worker {
    /// Starts a worker on `target` (a Redis URL, or `cluster:url,url,..`)
    /// and waits until its invalidation channel is subscribed.
    pub fn start(target: &str) -> Worker {
        Self::start_with(&[target])
    }

    /// [`Worker::start`] with more arguments (a second URL: the backend
    /// named "reports").
    // The worker is a binary of memo-tests; other crates that share this
    // module (memo-cli's tests) start no worker, and `env!` would not
    // compile there.
    #[allow(clippy::option_env_unwrap)]
    pub fn start_with(args: &[&str]) -> Worker {
        let mut child = Command::new(
            option_env!("CARGO_BIN_EXE_memo-worker")
                .expect("memo-worker is a binary of memo-tests"),
        )
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start memo-worker");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut worker = Worker {
            child,
            stdin,
            stdout,
        };
        assert_eq!(worker.read_line(), "ready");
        worker
    }

    fn read_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from memo-worker");
        line.trim_end().to_owned()
    }

    /// Sends one command line and returns the reply line.
    pub fn send(&mut self, line: &str) -> String {
        self.post(line);
        self.reply()
    }

    /// Sends one command line without waiting for the reply.
    pub fn post(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("write to memo-worker");
        self.stdin.flush().expect("flush");
    }

    /// The reply to an earlier [`Worker::post`].
    pub fn reply(&mut self) -> String {
        self.read_line()
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of a server, for faults the network makes: it
/// forwards both ways until told to black-hole (then it swallows what it
/// reads, in both directions, and the sockets stay open: a peer sees
/// silence, not a reset). Its threads stop when it is dropped.
pub struct Proxy {
    pub port: u16,
    black_hole: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Milliseconds each chunk of a reply waits before it is forwarded.
    delay: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let black_hole = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (hole, stopped, delayed) = (
            Arc::clone(&black_hole),
            Arc::clone(&stop),
            Arc::clone(&delay),
        );
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream))
                        else {
                            continue;
                        };
                        for (from, to, reply) in [
                            (client.try_clone(), server.try_clone(), false),
                            (server.try_clone(), client.try_clone(), true),
                        ] {
                            let (Ok(from), Ok(to)) = (from, to) else {
                                continue;
                            };
                            let (hole, stopped) = (Arc::clone(&hole), Arc::clone(&stopped));
                            let delay = reply.then(|| Arc::clone(&delayed));
                            std::thread::spawn(move || {
                                pump(from, to, &hole, &stopped, delay.as_deref())
                            });
                        }
                    }
                    // Accept polls: this thread has nothing else to wait on.
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Proxy {
            port,
            black_hole,
            delay,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// From now on, hold each chunk of every reply `ms` milliseconds before
    /// forwarding it: a round trip costs at least that.
    pub fn delay_replies(&self, ms: u64) {
        self.delay.store(ms, std::sync::atomic::Ordering::Release);
    }

    /// From now on, swallow every byte of every connection, old and new.
    pub fn black_hole(&self) {
        self.black_hole
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
    }
}

fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    black_hole: &std::sync::atomic::AtomicBool,
    stop: &std::sync::atomic::AtomicBool,
    delay: Option<&std::sync::atomic::AtomicU64>,
) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buffer = [0u8; 16 * 1024];
    while !stop.load(Ordering::Acquire) {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let ms = delay.map_or(0, |delay| delay.load(Ordering::Acquire));
                if ms > 0 {
                    std::thread::sleep(Duration::from_millis(ms));
                }
                if !black_hole.load(Ordering::Acquire) && to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}
