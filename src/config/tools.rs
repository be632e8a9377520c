//! The AI tools: the OpenAI key, models and time limits, whether PodScribe is on, and the
//! welcome credits a new account may try them with.

use super::{invalid, missing, ConfigProblem, Read, Secret, Setting};
use crate::domain::audio::MAX_BYTES;
use crate::domain::audio_split::DEFAULT_CHUNK_BYTES;

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
    /// How long after it starts an AgentWrite run is looked at by the queue consumer, which
    /// writes it again if it is still running (its request is gone: `AGENTWRITE_BACKSTOP_SECS`,
    /// default 300, well past any stream its request could still be relaying).
    pub agentwrite_backstop_secs: u64,
    /// The most one transcription request carries; larger MP3 and WAV episodes are cut into
    /// chunks of at most this (`TRANSCRIBE_CHUNK_BYTES`).
    pub transcribe_chunk_bytes: u64,
}

/// `TRANSCRIBE_CHUNK_BYTES` may be this small (tests cut episodes of a few hundred KB) and at
/// most the upload limit.
const MIN_CHUNK_BYTES: u64 = 64 * 1024;

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
    let agentwrite_backstop_secs = secs("AGENTWRITE_BACKSTOP_SECS", 300);
    let transcribe_chunk_bytes = match read(&["TRANSCRIBE_CHUNK_BYTES"]) {
        None => DEFAULT_CHUNK_BYTES,
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if (MIN_CHUNK_BYTES..=MAX_BYTES).contains(&n) => n,
            _ => {
                problem = Some(invalid(
                    "TRANSCRIBE_CHUNK_BYTES",
                    "must be a number of bytes from 65536 to 26214400 (25 MB)",
                ));
                DEFAULT_CHUNK_BYTES
            }
        },
    };
    let tools = ToolsConfig {
        chat_model: read(&["OPENAI_MODEL"]).map(|(_, v)| v).unwrap_or_else(|| "gpt-4o-mini".into()),
        transcribe_model: read(&["OPENAI_TRANSCRIBE_MODEL"])
            .map(|(_, v)| v)
            .unwrap_or_else(|| "whisper-1".into()),
        podscribe_enabled: read(&["PODSCRIBE_ENABLED"]).is_some_and(|(_, v)| v == "true" || v == "1"),
        timeout_secs,
        transcribe_timeout_secs,
        ready_mail_delay_secs,
        agentwrite_backstop_secs,
        transcribe_chunk_bytes,
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
