//! A practice under test: a fresh directory, its configuration (public
//! keys only), a fake Graph API server and `caduceus serve` in-process on
//! free loopback ports.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use caduceus_server::demo::{self, HookClient, Patient, PracticeSetup};
use caduceus_server::fake_graph::FakeGraph;
use caduceus_server::{Config, RunningServer};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let p = std::env::temp_dir().join(format!(
            "caduceus-server-{tag}-{}-{}",
            std::process::id(),
            hex::encode(b)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Practice {
    pub dir: TempDir,
    pub fake: FakeGraph,
    pub setup: PracticeSetup,
    pub server: Option<RunningServer>,
    pub client: HookClient,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl Practice {
    /// Start a practice; `edit` may change the configuration text.
    pub async fn start_with(tag: &str, edit: impl Fn(String) -> String) -> Self {
        let dir = TempDir::new(tag);
        let fake = FakeGraph::start(demo::GRAPH_TOKEN).await.unwrap();
        let setup = demo::write_practice(dir.path(), &fake.base_url()).unwrap();
        let text = std::fs::read_to_string(&setup.config).unwrap();
        std::fs::write(&setup.config, edit(text)).unwrap();
        let config = Config::load(&setup.config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = caduceus_server::start(config, listener).await.unwrap();
        let client = HookClient::new(server.addr());
        Self {
            dir,
            fake,
            setup,
            server: Some(server),
            client,
        }
    }

    pub async fn start(tag: &str) -> Self {
        Self::start_with(tag, |t| t).await
    }

    pub fn store(&self) -> caduceus_store::Store {
        caduceus_store::Store::open(&self.setup.db).unwrap()
    }

    pub async fn post(&self, body: &[u8]) -> u16 {
        self.client
            .post_signed(body, demo::APP_SECRET.as_bytes())
            .await
    }

    /// A patient who has consented to chat and photos.
    pub async fn consented(&self, n: u32) -> Patient {
        let p = Patient::new(
            &format!("Testperson {n}"),
            &format!("49151000{n:05}"),
            &format!("DE.22000000000000{n:05}"),
        );
        let t = now() - 600;
        assert_eq!(
            self.post(&demo::text_body(
                &p,
                &format!("wamid.first-{n}"),
                t,
                "Hallo"
            ))
            .await,
            200
        );
        let payload = "caduceus.consent.v1:yes-photos:privacy-chat:1:de";
        assert_eq!(
            self.post(&demo::button_body(
                &p,
                &format!("wamid.yes-{n}"),
                t + 1,
                payload,
                "Ja, auch Fotos"
            ))
            .await,
            200
        );
        p
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }
}
