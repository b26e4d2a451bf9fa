use std::process::ExitCode;

use api::cli::{Cli, Command, ConfigCommand};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Some(result) = api::cli::run_without_settings(&command) {
        return exit_code(result);
    }
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("authd: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    if let Command::Config {
        command: ConfigCommand::Check,
    } = command
    {
        return match api::cli::config_check::check(|key| std::env::var(key).ok()).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => exit_code(Err(e)),
        };
    }
    let settings = match api::Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("authd: {e}");
            return ExitCode::from(2);
        }
    };
    api::telemetry::init(settings.observability.log_format);
    exit_code(api::cli::run(command, settings).await)
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
