//! The server's limits, on a real socket: headers that never end, a body trickled for ever, and
//! one connection too many are closed; a whole request is answered, and so is one in flight
//! when its connection's lifetime ends.

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Limits, serve};

/// A server with `limits` on 127.0.0.1:0 answering `POST /` with its body's length, and
/// `POST /slow` half a second later.
async fn server(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route(
            "/",
            post(|body: String| async move { body.len().to_string() }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow"
            }),
        );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn limits() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(200),
        connection_lifetime: Duration::from_secs(1),
        grace: Duration::from_millis(300),
        max_connections: 2,
    }
}

#[tokio::test]
async fn headers_that_never_end_and_a_trickled_body_are_closed() {
    // Headers first, with a lifetime that cannot be what closes the connection.
    let long = Limits {
        connection_lifetime: Duration::from_secs(60),
        ..limits()
    };
    let (addr, _stop) = server(long).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Closed by the header timeout (a 408 or nothing), well before the test's own limit.
    let closed = tokio::time::timeout(Duration::from_secs(30), until_closed(&mut slow)).await;
    assert!(closed.is_ok_and(|text| !text.contains("200 OK")));

    let (addr, _stop) = server(limits()).await;
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    trickle
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    let feed = async {
        loop {
            if trickle.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ended = tokio::time::timeout(Duration::from_secs(30), feed).await;
    assert!(ended.is_ok(), "the server closed the trickled connection");
}

#[tokio::test]
async fn one_connection_too_many_is_closed_and_a_whole_request_is_answered() {
    let (addr, _stop) = server(Limits {
        header_timeout: Duration::from_secs(20),
        ..limits()
    })
    .await;
    // Two idle connections hold every place.
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .await;
    let text = tokio::time::timeout(Duration::from_secs(30), until_closed(&mut third)).await;
    assert!(text.is_ok_and(|t| t.is_empty()), "closed unanswered");
    drop((_a, _b));

    // Places free again once the idle ones are gone.
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let request =
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
            let _ = c.write_all(request).await;
            let text = until_closed(&mut c).await;
            if text.contains("200 OK") {
                return text;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("answered once places are free");
    assert!(answered.ends_with("\r\n\r\n2"), "{answered}");
}

#[tokio::test]
async fn a_request_in_flight_when_the_lifetime_ends_is_answered() {
    let (addr, _stop) = server(Limits {
        connection_lifetime: Duration::from_millis(100),
        grace: Duration::from_secs(20),
        ..limits()
    })
    .await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(30), until_closed(&mut c))
        .await
        .expect("closed after the answer");
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.ends_with("slow"),
        "{text}"
    );
}
