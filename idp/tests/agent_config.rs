//! Card-agent configuration checks, the binary's refusals, and the OpenSC path without a reader.
//! Nothing here touches a SoftHSM2 token (those tests are all in `agent_http.rs`).

use std::process::Command;

use idp::agent::{spawn, AgentConfig, AgentError, ConfigError, Mode};

fn base(listen: &str) -> String {
    format!(
        "listen = \"{listen}\"\nallowed_origins = [\"https://127.0.0.1:8443\"]\nmode = \"virtual\"\npki_dir = \"/nonexistent\"\n"
    )
}

fn parse(text: &str) -> Result<(), ConfigError> {
    AgentConfig::from_toml(text, None)?.validate()
}

#[test]
fn binding_outside_127_0_0_1_is_refused() {
    assert_eq!(parse(&base("127.0.0.1:7443")), Ok(()));
    assert_eq!(parse(&base("127.0.0.1:0")), Ok(()));
    for addr in [
        "0.0.0.0:7443",
        "192.168.1.10:7443",
        "[::]:7443",
        "[::1]:7443",
        "127.0.0.2:7443",
    ] {
        assert!(
            matches!(parse(&base(addr)), Err(ConfigError::NotLoopback(_))),
            "{addr}: {:?}",
            parse(&base(addr))
        );
    }
    for addr in ["localhost:7443", "127.0.0.1", "7443"] {
        assert!(
            matches!(parse(&base(addr)), Err(ConfigError::BadListen(_))),
            "{addr}"
        );
    }
    // And spawning refuses before touching anything.
    let mut c = AgentConfig::virtual_cards("/nonexistent", ["https://127.0.0.1:8443"]);
    c.listen = "0.0.0.0:0".into();
    assert!(matches!(
        spawn(c),
        Err(AgentError::Config(ConfigError::NotLoopback(_)))
    ));
}

#[test]
fn origins_and_modes_are_validated() {
    let with = |extra: &str, origins: &str| {
        parse(&format!(
            "listen = \"127.0.0.1:7443\"\nallowed_origins = {origins}\n{extra}"
        ))
    };
    let virt = "mode = \"virtual\"\npki_dir = \"x\"\n";
    assert_eq!(with(virt, "[]"), Err(ConfigError::NoOrigins));
    for bad in [
        "*",
        "null",
        "https://idp.example/",
        "https://*.example",
        "idp.example",
        "https://IDP.example",
    ] {
        assert!(
            matches!(
                with(virt, &format!("[\"{bad}\"]")),
                Err(ConfigError::BadOrigin { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        with("mode = \"virtual\"\n", "[\"https://a.example\"]"),
        Err(ConfigError::VirtualNeedsPkiDir)
    );
    assert_eq!(
        with(
            "mode = \"opensc\"\ndemo_pin_from_manifest = true\n",
            "[\"https://a.example\"]"
        ),
        Err(ConfigError::DemoNeedsVirtual)
    );
    assert_eq!(
        with("mode = \"opensc\"\n", "[\"https://a.example\"]"),
        Ok(())
    );
    assert_eq!(
        with(
            &format!("{virt}request_ttl_secs = 121\n"),
            "[\"https://a.example\"]"
        ),
        Err(ConfigError::BadTtl(121))
    );
    assert!(matches!(
        with(
            &format!("{virt}listen_anywhere = true\n"),
            "[\"https://a.example\"]"
        ),
        Err(ConfigError::Toml(_))
    ));
    // Defaults.
    let c = AgentConfig::from_toml(
        "allowed_origins = [\"https://127.0.0.1:8443\"]\nmode = \"virtual\"\npki_dir = \"pki\"\n",
        Some(std::path::Path::new("/etc/agent")),
    )
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:7443");
    assert_eq!(c.request_ttl_secs, 120);
    assert!(!c.demo_pin_from_manifest, "demo mode is off by default");
    assert_eq!(
        c.pki_dir.as_deref(),
        Some(std::path::Path::new("/etc/agent/pki"))
    );
    assert_eq!(c.mode, Mode::Virtual);
}

#[test]
fn the_binary_refuses_a_bad_config_and_prints_a_valid_example() {
    let exe = env!("CARGO_BIN_EXE_card-agent");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, base("0.0.0.0:7443")).unwrap();
    let out = Command::new(exe)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1 only"), "{err}");

    let out = Command::new(exe).arg("example-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let c = AgentConfig::from_toml(&text, None).unwrap();
    c.validate().unwrap();
    assert!(!c.demo_pin_from_manifest);
}

/// OpenSC's module with no reader: the agent starts and lists no card.
#[test]
fn opensc_mode_without_a_reader_lists_no_card() {
    if !std::path::Path::new(idp::agent::config::OPENSC_MODULE).exists() {
        eprintln!("opensc not installed: skipped");
        return;
    }
    let config = AgentConfig {
        mode: Mode::Opensc,
        pki_dir: None,
        ..AgentConfig::virtual_cards("", ["https://127.0.0.1:8443"])
    };
    let agent = spawn(config).expect("agent starts with OpenSC");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = idp::agent::AgentClient::new(agent.base_url(), "https://127.0.0.1:8443");
        let cards = c.cards().await.unwrap();
        assert_eq!(cards.mode, "opensc");
        assert!(cards.cards.is_empty(), "{cards:?}");
        assert_eq!(
            c.certificate("r00000000", idp::agent::Kind::Auth)
                .await
                .unwrap_err()
                .code(),
            Some("unknown_card")
        );
    });
}
