//! Request bodies held to their tenant's limit as they stream in.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use airssys_wasm::wasmtime_backend::wasmtime_wasi_http::Error as HttpError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A body that fails once more than `limit` bytes have come, and says so
/// in its flag (the server then answers 413, whatever the handler did with
/// the error).
pub struct Bounded<B> {
    inner: B,
    left: u64,
    limit: u64,
    over: Arc<AtomicBool>,
}

impl<B> Bounded<B> {
    /// `inner`, cut at `limit` bytes; `over` is raised when it is.
    pub fn new(inner: B, limit: u64, over: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            left: limit,
            limit,
            over,
        }
    }
}

impl<B> Body for Bounded<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    if n > this.left {
                        this.over.store(true, Ordering::Release);
                        this.left = 0;
                        return Poll::Ready(Some(Err(HttpError::HttpRequestBodySize(Some(
                            this.limit,
                        )))));
                    }
                    this.left -= n;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::InternalError(Some(
                format!("reading the request body: {e}"),
            ))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    fn collect(body: Bounded<Full<Bytes>>) -> Result<Bytes, HttpError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { body.collect().await.map(|c| c.to_bytes()) })
    }

    #[test]
    fn passes_a_body_within_the_limit() {
        let over = Arc::new(AtomicBool::new(false));
        let b = Bounded::new(Full::new(Bytes::from_static(b"12345")), 5, over.clone());
        assert_eq!(collect(b).unwrap(), Bytes::from_static(b"12345"));
        assert!(!over.load(Ordering::Acquire));
    }

    #[test]
    fn fails_a_body_over_the_limit_and_raises_the_flag() {
        let over = Arc::new(AtomicBool::new(false));
        let b = Bounded::new(Full::new(Bytes::from_static(b"123456")), 5, over.clone());
        assert!(matches!(
            collect(b),
            Err(HttpError::HttpRequestBodySize(Some(5)))
        ));
        assert!(over.load(Ordering::Acquire));
    }
}
