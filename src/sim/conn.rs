//! The sim's TCP listener and per-connection IO wrapper. It exists for the two faults a
//! handler cannot express through axum: closing a connection without any response
//! ([`FaultKind::ResetConnection`](super::FaultKind::ResetConnection)) and sending a response
//! without a `Date` header (hyper adds one to every response it writes). The handler reaches
//! its connection's [`ConnControl`] through `ConnectInfo` and flips a flag; the wrapper acts on
//! the bytes hyper writes. It owns no HTTP semantics beyond finding the end of a response head.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Flags a handler sets on the connection its request arrived on.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    /// Fail every further read and write, so hyper drops the connection unanswered.
    kill: AtomicBool,
    /// Remove the `date:` line from the next response head written.
    strip_date: AtomicBool,
}

/// Shared handle on one connection's [`Flags`], handed to handlers as connect info.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnControl(Arc<Flags>);

impl ConnControl {
    /// Close the connection without writing the response.
    pub(crate) fn kill(&self) {
        self.0.kill.store(true, Ordering::SeqCst);
    }

    /// Drop the `Date` header from the next response on this connection.
    pub(crate) fn strip_next_date(&self) {
        self.0.strip_date.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, SimListener>> for ConnControl {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A `TcpListener` whose connections carry a [`ConnControl`].
pub(crate) struct SimListener(pub(crate) TcpListener);

impl Listener for SimListener {
    type Io = SimIo;
    type Addr = ConnControl;

    async fn accept(&mut self) -> (SimIo, ConnControl) {
        loop {
            match self.0.accept().await {
                Ok((stream, _)) => {
                    let control = ConnControl::default();
                    let io = SimIo {
                        inner: stream,
                        flags: control.0.clone(),
                        pending: Vec::new(),
                    };
                    return (io, control);
                }
                // Per-connection accept errors (e.g. the peer vanished) are not fatal; EMFILE
                // would spin, so yield to let other tasks release descriptors.
                Err(_) => tokio::task::yield_now().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnControl> {
        Ok(ConnControl::default())
    }
}

/// The connection IO: a `TcpStream` that obeys its [`Flags`].
pub(crate) struct SimIo {
    inner: TcpStream,
    flags: Arc<Flags>,
    /// Rewritten bytes (a head without `date:`) not yet handed to the socket.
    pending: Vec<u8>,
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "sim fault: connection reset",
    )
}

impl SimIo {
    /// Push `pending` to the socket; `Ready(Ok)` once it is empty.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// `buf` with its `date:` header line removed, if `buf` holds a response head.
fn without_date(buf: &[u8]) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &buf[..head_end];
    let start = head
        .windows(8)
        .position(|w| w.eq_ignore_ascii_case(b"\r\ndate: "))?;
    let line_end = head[start + 2..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(head_end, |p| start + 2 + p);
    let mut out = Vec::with_capacity(buf.len());
    out.extend_from_slice(&buf[..start]);
    out.extend_from_slice(&buf[line_end..]);
    Some(out)
}

impl AsyncRead for SimIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.flags.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.flags.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        match self.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if self.flags.strip_date.load(Ordering::SeqCst)
            && let Some(rewritten) = without_date(buf)
        {
            self.flags.strip_date.store(false, Ordering::SeqCst);
            // Claim the whole buffer; the rewritten copy goes out on later polls and flush.
            self.pending = rewritten;
            if let Poll::Ready(Err(e)) = self.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.flags.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_date;

    #[test]
    fn date_line_is_removed_from_a_response_head_only() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: Mon, 01 Jan 2024 00:00:00 GMT\r\nx-a: b\r\n\r\n[]";
        let out = without_date(raw).expect("head present");
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\r\n[]".to_vec()
        );
        assert!(without_date(b"[]").is_none());
    }
}
