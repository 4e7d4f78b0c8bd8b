//! Capturing a child's stdout and stderr: a bounded tail of each stream, and
//! optionally the whole output appended to a file.
//!
//! Each stream is read by its own task so the child never blocks on a full pipe,
//! whatever the caller is doing (waiting, killing the tree).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::OutputEncoding;

const READ_CHUNK: usize = 16 * 1024;

/// What was kept of one output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The last bytes of the stream (at most the spec's `output_limit`), decoded
    /// in the spec's `output_encoding` (UTF-8 by default on Unix, the OEM code
    /// page on Windows) with invalid sequences replaced by U+FFFD.
    pub text: String,
    /// How many bytes the stream carried in total.
    pub total_bytes: u64,
    /// True when earlier bytes were dropped to respect the limit.
    pub truncated: bool,
}

/// The last `limit` bytes of a stream; memory stays bounded by the limit.
struct Tail {
    bytes: VecDeque<u8>,
    limit: usize,
    total: u64,
}

impl Tail {
    fn new(limit: usize) -> Self {
        Tail {
            bytes: VecDeque::new(),
            limit,
            total: 0,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if chunk.len() >= self.limit {
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.limit..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    fn finish(self, encoding: OutputEncoding) -> Captured {
        let truncated = self.total > self.bytes.len() as u64;
        let bytes = Vec::from(self.bytes);
        // The cut may have landed inside a multi-byte character: drop its orphaned
        // continuation bytes (at most 3) instead of reporting them as garbage.
        let start = if truncated && encoding.is_utf8() {
            bytes
                .iter()
                .take(3)
                .take_while(|b| (**b & 0xC0) == 0x80)
                .count()
        } else {
            0
        };
        Captured {
            text: encoding.decode(&bytes[start..]),
            total_bytes: self.total,
            truncated,
        }
    }
}

/// Opens `path` for appending (creating it) and returns one handle per stream.
pub(super) async fn open_output_file(path: &Path) -> std::io::Result<(File, File)> {
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let second = file.try_clone().await?;
    Ok((file, second))
}

/// The two reader tasks of one child.
pub(super) struct Capture {
    stdout: JoinHandle<Captured>,
    stderr: JoinHandle<Captured>,
    stop: CancellationToken,
}

impl Capture {
    /// Starts reading both streams. `files` are the output file's two handles
    /// (see [`open_output_file`]) and its path, for messages.
    pub(super) fn start(
        stdout: Option<impl AsyncRead + Unpin + Send + 'static>,
        stderr: Option<impl AsyncRead + Unpin + Send + 'static>,
        limit: usize,
        encoding: OutputEncoding,
        files: Option<((File, File), PathBuf)>,
    ) -> Capture {
        let stop = CancellationToken::new();
        let (out_file, err_file) = match files {
            Some(((a, b), path)) => (Some((a, path.clone())), Some((b, path))),
            None => (None, None),
        };
        Capture {
            stdout: tokio::spawn(pump(stdout, limit, encoding, out_file, stop.clone())),
            stderr: tokio::spawn(pump(stderr, limit, encoding, err_file, stop.clone())),
            stop,
        }
    }

    /// Waits for both streams to reach end of file, at most `bound`: a process
    /// outside the killed tree may still hold the pipes, and it must not keep the
    /// run open forever. Returns (stdout, stderr).
    pub(super) async fn finish(self, bound: Duration) -> (Captured, Captured) {
        let Capture {
            stdout,
            stderr,
            stop,
        } = self;
        let both = async { (joined(stdout).await, joined(stderr).await) };
        tokio::pin!(both);
        match tokio::time::timeout(bound, &mut both).await {
            Ok(captured) => captured,
            Err(_) => {
                tracing::warn!(
                    "output pipes still open {bound:?} after the command ended \
                     (held by a process outside its tree); stopped reading"
                );
                stop.cancel();
                both.await
            }
        }
    }
}

async fn joined(handle: JoinHandle<Captured>) -> Captured {
    handle.await.unwrap_or_else(|err| {
        tracing::warn!("output reader task failed: {err}");
        Captured::default()
    })
}

/// Reads `source` until end of file or `stop`, keeping the tail and appending
/// every chunk to `file`. A failing file is reported once and then left alone:
/// the command's outcome does not depend on its log file.
async fn pump(
    source: Option<impl AsyncRead + Unpin>,
    limit: usize,
    encoding: OutputEncoding,
    mut file: Option<(File, PathBuf)>,
    stop: CancellationToken,
) -> Captured {
    let mut tail = Tail::new(limit);
    let Some(mut source) = source else {
        return tail.finish(encoding);
    };
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let read = tokio::select! {
            read = source.read(&mut buf) => read,
            () = stop.cancelled() => break,
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!("reading the command's output failed: {err}");
                break;
            }
        };
        tail.push(&buf[..n]);
        if let Some((f, path)) = &mut file {
            if let Err(err) = f.write_all(&buf[..n]).await {
                tracing::warn!("writing output file {} failed: {err}", path.display());
                file = None;
            }
        }
    }
    if let Some((mut f, path)) = file {
        // tokio's File finishes writes in the background; flush to surface errors.
        if let Err(err) = f.flush().await {
            tracing::warn!("writing output file {} failed: {err}", path.display());
        }
    }
    tail.finish(encoding)
}
