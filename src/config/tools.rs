//! The AI tools: the OpenAI key, models and time limits, whether PodScribe is on, and the
//! welcome credits a new account may try them with.

use super::{invalid, missing, ConfigProblem, Read, Secret, Setting};

/// Enough for one product description (1 credit) and four started minutes of audio.
pub const DEFAULT_WELCOME_CREDITS: u32 = 5;
const MAX_WELCOME_CREDITS: u32 = 1000;

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: Secret,
}

/// The AI tools: which models, how long to wait, whether PodScribe is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolsConfig {
    /// Chat model for AgentWrite and show notes (`OPENAI_MODEL`).
    pub chat_model: String,
    /// Transcription model (`OPENAI_TRANSCRIBE_MODEL`).
    pub transcribe_model: String,
    /// PodScribe's routes exist only when `PODSCRIBE_ENABLED` is true.
    pub podscribe_enabled: bool,
    /// Longest wait for a chat answer to start, and between two pieces of a stream.
    pub timeout_secs: u64,
    /// Longest wait for a transcription.
    pub transcribe_timeout_secs: u64,
    /// How long after a transcript is done its owner is mailed, unless they have seen it
    /// (`READY_MAIL_DELAY_SECS`).
    pub ready_mail_delay_secs: u64,
}

pub fn openai(read: Read) -> Setting<OpenAiConfig> {
    match read(&["OPENAI_API_KEY"]) {
        None => Err(missing("OPENAI_API_KEY")),
        Some((_, v)) => Ok(OpenAiConfig { api_key: Secret(v) }),
    }
}

pub fn tools(read: Read) -> (ToolsConfig, Option<ConfigProblem>) {
    let mut problem = None;
    let mut secs = |var: &'static str, default: u64| match read(&[var]) {
        None => default,
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if (1..=3600).contains(&n) => n,
            _ => {
                problem = Some(invalid(var, "must be a number of seconds from 1 to 3600"));
                default
            }
        },
    };
    let timeout_secs = secs("OPENAI_TIMEOUT_SECS", 60);
    let transcribe_timeout_secs = secs("OPENAI_TRANSCRIBE_TIMEOUT_SECS", 600);
    let ready_mail_delay_secs = secs("READY_MAIL_DELAY_SECS", 120);
    let tools = ToolsConfig {
        chat_model: read(&["OPENAI_MODEL"]).map(|(_, v)| v).unwrap_or_else(|| "gpt-4o-mini".into()),
        transcribe_model: read(&["OPENAI_TRANSCRIBE_MODEL"])
            .map(|(_, v)| v)
            .unwrap_or_else(|| "whisper-1".into()),
        podscribe_enabled: read(&["PODSCRIBE_ENABLED"]).is_some_and(|(_, v)| v == "true" || v == "1"),
        timeout_secs,
        transcribe_timeout_secs,
        ready_mail_delay_secs,
    };
    (tools, problem)
}

/// Credits a new account gets once per person (`WELCOME_CREDITS`, 0–1000, 0 = none).
pub fn welcome_credits(read: Read) -> Setting<u32> {
    match read(&["WELCOME_CREDITS"]) {
        None => Ok(DEFAULT_WELCOME_CREDITS),
        Some((var, v)) => match v.parse::<u32>() {
            Ok(n) if n <= MAX_WELCOME_CREDITS => Ok(n),
            _ => Err(invalid(var, "must be a whole number of credits from 0 (none) to 1000")),
        },
    }
}
