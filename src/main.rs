//! The `larder` binary: parse the command line, set up logging, run, and
//! turn the outcome into an exit status.

use clap::Parser;
use std::process::ExitCode;

/// sysexits EX_CONFIG: the configuration is wrong.
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = larder::commands::Cli::parse();
    // Arms the crash points named in FAILPOINTS (test builds only).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    // The demo prints its own timeline; the daemon's log would drown it.
    let default = match cli.command {
        larder::commands::CliCommand::Demo { .. } | larder::commands::CliCommand::Bench(_) => {
            "warn,rumqttd=off"
        }
        _ => larder::telemetry::DEFAULT_FILTER,
    };
    larder::telemetry::init(default);
    match larder::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("larder: {error:#}");
            if error.is::<larder::commands::ConfigProblem>() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
