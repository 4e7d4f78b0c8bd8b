//! Support for the dashboard tests: a `stagehand dashboard` process, a plain HTTP/1.1
//! client for what a browser is not needed for, and Chromium through chromedriver.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A `stagehand dashboard` process and the address it serves on.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `stagehand dashboard --listen LISTEN ARGS...` and reads the bound address
    /// from its first line.
    pub async fn start(url: &str, listen: &str, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(["dashboard", "--listen", listen])
            .args(args)
            .env("STAGEHAND_DATABASE_URL", url)
            .env("RUST_LOG", "stagehand=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start stagehand dashboard");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the dashboard printed its address within 30 s")
        .expect("read the dashboard's stdout");
        let addr = line
            .trim()
            .strip_prefix("dashboard listening on http://")
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the dashboard: {line:?}"));
        Server { child, addr }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    http_on(stream, addr, method, path, headers, body).await
}

/// A session: GET `/tasks` (with `auth`, e.g. an Authorization header) and return its
/// cookie (`name=value`) and CSRF token.
pub async fn session(addr: SocketAddr, auth: &[(&str, &str)]) -> (String, String) {
    let page = http(addr, "GET", "/tasks", auth, "").await;
    assert_eq!(page.status, 200, "reading /tasks for a session: {page:?}");
    let cookie = page
        .header("set-cookie")
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.split_once('=').unwrap().1.to_string();
    (cookie, token)
}

/// POST `path` in a new [`session`] (with `credentials` as the Authorization header, when
/// given), from this server's origin, with the CSRF token and `fields` (`&name=value…`).
pub async fn post_as(
    addr: SocketAddr,
    credentials: Option<&str>,
    path: &str,
    fields: &str,
) -> Response {
    let auth: Vec<(&str, &str)> = credentials
        .map(|c| ("Authorization", c))
        .into_iter()
        .collect();
    let (cookie, token) = session(addr, &auth).await;
    let origin = format!("http://{addr}");
    let mut headers = auth;
    headers.extend([
        ("Origin", origin.as_str()),
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ]);
    http(
        addr,
        "POST",
        path,
        &headers,
        &format!("csrf={token}{fields}"),
    )
    .await
}

/// As [`http`], from another local address (e.g. 127.0.0.2: another client).
pub async fn http_from(
    source: std::net::Ipv4Addr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind((source, 0).into())
        .expect("bind the source address");
    let stream = socket.connect(addr).await.expect("connect");
    http_on(stream, addr, method, path, headers, "").await
}

async fn http_on(
    mut stream: tokio::net::TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("receive");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A free loopback port (bound and released: the caller binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// chromedriver and Chromium, found on PATH (Debian's `chromium-driver` and `chromium`;
/// scripts/test.sh installs them). Missing ones fail the test with what to install.
pub struct Browser {
    driver: Child,
    pub client: fantoccini::Client,
    _profile: tempfile::TempDir,
}

fn find(program: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} not found on PATH (or in {env}): the dashboard's browser tests need \
                 Debian's chromium and chromium-driver — `apt-get install chromium chromium-driver`, \
                 which scripts/test.sh does"
            )
        })
}

impl Browser {
    pub async fn start() -> Browser {
        let chromedriver = find("chromedriver", "STAGEHAND_CHROMEDRIVER");
        let chromium = find("chromium", "STAGEHAND_CHROMIUM");
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                // The flags Chromium needs as root on a machine with a closed network.
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let client = loop {
            match fantoccini::ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if tokio::time::Instant::now() > deadline => {
                    panic!("chromedriver on port {port} did not start a browser: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            driver,
            client,
            _profile: profile,
        }
    }

    /// Saves a PNG of the page to target/screenshots/NAME.png.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}
