//! `idp`: the SAML 2.0 identity provider of the Nabari federation (see `idp/README.md`).
//!
//! ```text
//! idp run --config idp.toml          # serve
//! idp metadata --config idp.toml     # print the IdP's signed metadata
//! idp check --config idp.toml        # load everything (keys, metadata, CRLs, relay) and exit
//! idp example-config                 # print idp.example.toml
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use idp::web::{self, Config, IdpState};

#[derive(Parser)]
#[command(
    name = "idp",
    about = "SAML 2.0 identity provider with JPKI card login (Nabari federation)"
)]
struct Cli {
    /// Logs as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the IdP.
    Run {
        #[arg(long, short, default_value = "idp.toml")]
        config: PathBuf,
    },
    /// Print the IdP's signed metadata (EntityDescriptor with every published signing key).
    Metadata {
        #[arg(long, short, default_value = "idp.toml")]
        config: PathBuf,
    },
    /// Load the configuration, keys, metadata, CRLs and the relay, then exit.
    Check {
        #[arg(long, short, default_value = "idp.toml")]
        config: PathBuf,
    },
    /// Print a commented example configuration.
    ExampleConfig,
}

const EXAMPLE: &str = include_str!("../../idp.example.toml");

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("idp: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_json);
    match cli.command {
        Command::ExampleConfig => {
            print!("{EXAMPLE}");
            ExitCode::SUCCESS
        }
        Command::Metadata { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let keys = match web::keys::IdpKeys::load(&config) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("idp: {e}");
                    return ExitCode::from(2);
                }
            };
            match web::metadata::signed_metadata(&config, &keys, web::util::now()) {
                Ok(xml) => {
                    println!("{xml}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("idp: signing the metadata: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match IdpState::build(config) {
                Ok(state) => {
                    let entities = state.trust().map(|t| t.len()).unwrap_or(0);
                    println!(
                        "ok: entity {} at {}, {} signing key(s) published, {} federation entities",
                        state.config.entity_id,
                        state.config.base_url,
                        state.keys.certificates.len(),
                        entities
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("idp: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let state = match IdpState::build(config) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!("idp: {e}");
                    return ExitCode::from(2);
                }
            };
            let system = actix_web::rt::System::new();
            match system.block_on(web::run(state)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("idp: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
