//! `card-agent`: the local card agent (see `idp/AGENT.md`).
//!
//! ```text
//! card-agent --config card-agent.toml              # run
//! card-agent --config card-agent.toml check        # validate the configuration and list cards
//! card-agent --config card-agent.toml reset-pin --card 0001 --kind auth   # virtual cards only
//! card-agent example-config                        # print a commented configuration
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idp::agent::{AgentConfig, CardReader, Kind, Mode};

#[derive(Parser)]
#[command(
    name = "card-agent",
    about = "Local JPKI card agent for the Nabari IdP (127.0.0.1 only)"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short, default_value = "card-agent.toml")]
    config: PathBuf,
    /// Logs as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent (the default).
    Run,
    /// Validate the configuration, open the PKCS#11 module and list the cards present.
    Check,
    /// Virtual cards only: reset a locked or counted-down PIN (what the city office does for a
    /// real card).
    ResetPin {
        #[arg(long)]
        card: String,
        #[arg(long, value_parser = ["auth", "sign"])]
        kind: String,
    },
    /// Print a commented example configuration.
    ExampleConfig,
}

const EXAMPLE: &str = r#"# card-agent configuration (see idp/AGENT.md)
# 127.0.0.1 only; plain HTTP on loopback (browsers treat http://127.0.0.1 as a secure context).
listen = "127.0.0.1:7443"
# Exact Origin values of the IdP login pages allowed to use the agent.
allowed_origins = ["https://127.0.0.1:8443"]
# "virtual": SoftHSM2 cards of the test PKI; "opensc": a real card through OpenSC's JPKI driver.
mode = "virtual"
pki_dir = "../certs/out"
# pkcs11_module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
# pin_tries_file = "../certs/out/card-agent-pin-tries.json"
# request_ttl_secs = 120
# max_pending = 16
# Tests and demos only: sign without asking, with the PIN from the virtual-card manifest.
demo_pin_from_manifest = false
"#;

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::ExampleConfig) = cli.command {
        print!("{EXAMPLE}");
        return ExitCode::SUCCESS;
    }
    init_logs(cli.log_json);
    let config = match AgentConfig::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("card-agent: {}: {e}", cli.config.display());
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let result = actix_web::rt::System::new().block_on(idp::agent::run(config));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("card-agent: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check => match CardReader::open(&config).and_then(|r| r.list()) {
            Ok(cards) => {
                println!(
                    "configuration OK: listen {}, mode {}, {} allowed origin(s)",
                    config.listen,
                    config.mode.as_str(),
                    config.allowed_origins.len()
                );
                for c in cards {
                    let kinds: Vec<_> = c
                        .tokens
                        .iter()
                        .map(|t| {
                            let left = t
                                .pin
                                .tries_left
                                .map(|n| n.to_string())
                                .unwrap_or("?".into());
                            format!(
                                "{} ({} tries left{})",
                                t.kind,
                                left,
                                if t.pin.locked { ", LOCKED" } else { "" }
                            )
                        })
                        .collect();
                    println!("card {}: {}", c.card, kinds.join(", "));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("card-agent: {e}");
                ExitCode::FAILURE
            }
        },
        Command::ResetPin { card, kind } => {
            if config.mode != Mode::Virtual {
                eprintln!("card-agent: reset-pin is for virtual cards; a real card's PIN is reset at the city office");
                return ExitCode::from(2);
            }
            let kind = Kind::parse(&kind).expect("clap checked");
            let reader = match CardReader::open(&config) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("card-agent: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let label = match kind {
                Kind::Auth => format!("JPKI-AUTH {card}"),
                Kind::Sign => format!("JPKI-SIGN {card}"),
            };
            match reader.tries_file().map(|t| t.reset(&label)) {
                Some(Ok(())) => {
                    println!("{label}: PIN tries reset to {}", kind.max_tries());
                    ExitCode::SUCCESS
                }
                Some(Err(e)) => {
                    eprintln!("card-agent: {e}");
                    ExitCode::FAILURE
                }
                None => ExitCode::FAILURE,
            }
        }
        Command::ExampleConfig => unreachable!(),
    }
}
