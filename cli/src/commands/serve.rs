//! `caduceus serve` (the webhook intake server, docs/SERVER.md) and
//! `caduceus demo` (a practice's day against it, over real HTTP).

use std::path::PathBuf;

use clap::Args;

use crate::error::{Result, fail, refused};

/// `caduceus serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Listens on 127.0.0.1 by default. GET /webhook answers Meta's subscription
handshake; POST /webhook is 413 over the size limit, 401 without a valid
X-Hub-Signature-256, 400 when the body does not parse, 503 when the store or a
media fetch failed (Meta redelivers), and 200 only after every event of the
body is committed to the store. The configuration holds public keys only: the
server seals but can never open. SIGTERM or SIGINT: stop accepting, finish
the deliveries in flight, close the store. Logs: JSON lines on standard error,
without health data, phone numbers or message content.

Exit codes: 0 stopped cleanly (or --check passed), 1 the configuration was
refused, 3 failed.

Examples:
  caduceus serve --config serve.toml --check
  caduceus serve --config serve.toml")]
pub struct ServeArgs {
    /// The configuration file (TOML, docs/SERVER.md section 2).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Validate the configuration (and the store, if it exists) and exit.
    #[arg(long)]
    pub check: bool,
}

/// `caduceus demo`.
#[derive(Debug, Args)]
#[command(after_help = "\
Starts a fake Graph API server and 'caduceus serve' on free loopback ports
with a fresh store, then plays a practice's day of signed webhook deliveries
of synthetic patients over HTTP, one line per step. Exit code 0 when every
step's outcome is the expected one, 1 otherwise, 3 when it could not run.")]
pub struct DemoArgs {
    /// Run in this (new or empty) directory and keep it; default: a
    /// temporary directory that is removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Run `caduceus serve`.
pub fn serve(a: ServeArgs) -> Result<()> {
    let config = caduceus_server::Config::load(&a.config).map_err(|e| refused(e.to_string()))?;
    if a.check {
        let r = caduceus_server::check(&config).map_err(|e| refused(e.to_string()))?;
        println!(
            "configuration {} is valid: listen {}, {} staff key(s), {} app secret(s), store {} ({}), Graph API token {}",
            a.config.display(),
            r.listen,
            r.staff,
            r.app_secrets,
            config.store.display(),
            match r.schema_version {
                Some(v) => format!("schema version {v}"),
                None => "created on first start".to_owned(),
            },
            if r.graph_token {
                "set"
            } else {
                "not set: media is not fetched, replies are not sent"
            }
        );
        return Ok(());
    }
    caduceus_server::run(config).map_err(|e| fail(e.to_string()))
}

/// Run `caduceus demo`.
pub fn demo(a: DemoArgs) -> Result<()> {
    let (dir, temporary) = match a.dir {
        Some(d) => (d, false),
        None => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| fail(format!("random: {e}")))?;
            (
                std::env::temp_dir().join(format!("caduceus-demo-{}", hex::encode(bytes))),
                true,
            )
        }
    };
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map_err(|e| fail(format!("cannot read {}: {e}", dir.display())))?
            .next()
            .is_some()
    {
        return Err(fail(format!(
            "{} is not empty; give a new or empty directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    let result = caduceus_server::demo::run(&dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result.map_err(|e| fail(format!("the demo could not run: {e}")))?;
    if report.failed > 0 {
        return Err(refused(format!(
            "Demo finished: {} of {} steps did not go as expected",
            report.failed, report.steps
        )));
    }
    println!(
        "Demo finished: all {} steps as expected; the audit log holds {} entries and verifies.",
        report.steps, report.audit_entries
    );
    Ok(())
}
