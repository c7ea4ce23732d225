//! A real SMTP server on loopback (mailin-embedded) that records what it
//! receives, and can be told to refuse mail for a while.

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{INTERNAL_ERROR, OK};
use mailin_embedded::{Handler, Response, Server};

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parseable message")
    }
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    refuse: AtomicBool,
}

#[derive(Clone)]
struct Recorder {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    buf: Vec<u8>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.shared.refuse.load(Ordering::SeqCst) {
            // 451: a temporary local failure, as a full disk or a greylist
            // answers.
            return INTERNAL_ERROR;
        }
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.buf.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.shared.messages.lock().unwrap().push(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.buf),
        });
        OK
    }
}

pub struct MailSink {
    port: u16,
    shared: Arc<Shared>,
}

impl MailSink {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP port");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let recorder = Recorder {
            shared: shared.clone(),
            from: String::new(),
            to: Vec::new(),
            buf: Vec::new(),
        };
        let mut server = Server::new(recorder);
        server
            .with_name("mail.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, shared }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_refusing(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}
