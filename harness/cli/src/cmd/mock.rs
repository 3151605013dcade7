//! `amp-conformance mock`: the built-in provider, on loopback, until interrupted.

use std::net::SocketAddr;

use amp_mock::{DefectSet, MockConfig};

use crate::args::MockArgs;
use crate::exit::{CliError, ExitCode};

pub fn run(args: &MockArgs) -> Result<ExitCode, CliError> {
    if args.list_defects {
        print!("{}", amp_mock::defect_table());
        return Ok(ExitCode::Ok);
    }
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        CliError::usage(format!(
            "--listen `{}` is not an IP:PORT address; use e.g. 127.0.0.1:8787",
            args.listen
        ))
    })?;
    if !listen.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "--listen {listen}: the mock only binds loopback addresses (127.0.0.0/8, ::1)"
        )));
    }
    let names: Vec<&str> = args.defects.iter().map(String::as_str).collect();
    let defects = DefectSet::from_names(&names).map_err(|e| {
        CliError::usage(format!(
            "{e}; `amp-conformance mock --list-defects` lists the known defects"
        ))
    })?;
    let config = MockConfig {
        listen,
        base_path: args.base_path.clone(),
        defects,
        profile: args.profile.into(),
        allow_loopback_webhooks: args.allow_loopback_webhooks,
        ..MockConfig::default()
    };
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let handle = amp_mock::spawn(config)
            .await
            .map_err(|e| CliError::broken(format!("cannot start the mock provider: {e}")))?;
        // First line of stdout is the base URL, so scripts can read it.
        println!("{}", handle.base_url());
        eprintln!(
            "amp-mock listening: base {} · websocket {} · provider domain {} · Ctrl-C to stop",
            handle.base_url(),
            handle.ws_url(),
            handle.provider_domain()
        );
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| CliError::broken(format!("cannot wait for Ctrl-C: {e}")))?;
        handle.shutdown().await;
        Ok(ExitCode::Ok)
    })
}
