//! The SDK's HTTP client: the same reqwest, hyper and rustls stack the registries and the
//! health probes use ([`crate::http`]), so that each binary carries one HTTPS stack (HTTP/1.1
//! only) instead of two.
//!
//! The SDK asks its client for a connector per connection settings; each distinct pair of
//! connect and read timeouts gets one reqwest client (one connection pool), built on the
//! first request that needs it. The connector follows no redirect and reads no proxy
//! setting, as the SDK's own does not; its errors are classified as the SDK's retry policy
//! expects (a timeout, an I/O failure, or a request that cannot be sent).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;

use super::tls::Roots;

/// The SDK's client, trusting the compiled-in roots and `roots`. Nothing is built until
/// the first request.
pub fn http_client(roots: Roots) -> SharedHttpClient {
    Client {
        roots: Arc::new(roots),
        connectors: Mutex::new(Vec::new()),
    }
    .into_shared()
}

/// Connect and read timeouts: what makes two connectors differ.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct Client {
    roots: Arc<Roots>,
    /// A few entries at most (the SDK's settings, and an override or two).
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

impl HttpClient for Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(Connector {
            client: build(&self.roots, timeouts),
        });
        connectors.push((timeouts, connector.clone()));
        connector
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

fn build(roots: &Roots, (connect, read): Timeouts) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(crate::http::tls_config(roots))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(connect) = connect {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = read {
        builder = builder.read_timeout(read);
    }
    builder
        .build()
        .expect("a client with a preconfigured rustls configuration always builds")
}

#[derive(Debug)]
struct Connector {
    client: reqwest::Client,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .map(reqwest::Body::wrap);
            let request =
                reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))?;
            let response = client.execute(request).await.map_err(connector_error)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            Response::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// A failed exchange as the SDK's retry policy reads it: timeouts and I/O failures
/// (refused or reset connections, a body cut short) are retried; a request that could not
/// be built is the caller's.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn connector(timeouts: Timeouts) -> Connector {
        Connector {
            client: build(&Roots::default(), timeouts),
        }
    }

    fn request(uri: &str) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from("hello"));
        request.set_uri(uri).unwrap();
        request.headers_mut().insert("content-length", "5");
        request
    }

    /// A server that answers one request with `answer` after reading it, and returns
    /// what it read.
    fn server(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/path?q=1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut read = Vec::new();
            let mut buf = [0u8; 1024];
            while !String::from_utf8_lossy(&read).contains("hello") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                read.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer).unwrap();
            String::from_utf8_lossy(&read).into_owned()
        });
        (uri, handle)
    }

    #[tokio::test]
    async fn sends_the_request_and_reads_status_headers_and_body() {
        let (uri, server) =
            server(b"HTTP/1.1 201 Created\r\nx-amz-request-id: r1\r\ncontent-length: 2\r\n\r\nok");
        let response = connector((None, None)).call(request(&uri)).await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        assert_eq!(response.headers().get("x-amz-request-id"), Some("r1"));
        assert_eq!(response.body().bytes(), None, "streamed, not buffered");
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"ok");
        let sent = server.join().unwrap();
        assert!(
            sent.starts_with("POST /path?q=1 HTTP/1.1\r\n")
                || sent.starts_with("GET /path?q=1 HTTP/1.1\r\n"),
            "{sent}"
        );
        assert!(
            sent.to_ascii_lowercase().contains("content-length: 5"),
            "{sent}"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_returned_not_followed() {
        let (uri, server) = server(b"HTTP/1.1 301 Moved Permanently\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\n\r\n");
        let response = connector((None, None)).call(request(&uri)).await.unwrap();
        assert_eq!(response.status().as_u16(), 301);
        server.join().unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_and_a_silent_server_a_timeout() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let e = connector((None, None))
            .call(request(&uri))
            .await
            .unwrap_err();
        assert!(e.is_io(), "{e:?}");

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/", silent.local_addr().unwrap());
        let read = Some(Duration::from_millis(50));
        let e = connector((None, read))
            .call(request(&uri))
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        drop(silent);
    }

    #[test]
    fn one_connector_per_pair_of_timeouts() {
        let client = Client {
            roots: Arc::new(Roots::default()),
            connectors: Mutex::new(Vec::new()),
        };
        let components = aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder::for_tests()
            .build()
            .unwrap();
        let a = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(1))
            .build();
        let b = HttpConnectorSettings::builder()
            .read_timeout(Duration::from_secs(1))
            .build();
        client.http_connector(&a, &components);
        client.http_connector(&a, &components);
        client.http_connector(&b, &components);
        assert_eq!(client.connectors.lock().unwrap().len(), 2);
    }
}
