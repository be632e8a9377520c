//! The AI tools and the states of their runs. `Tool` is the registry: each tool's name, its
//! pages' prefix and what its owner may do with a run in each state; history, the dashboard
//! and the ledger's labels iterate it (adding a tool: README → "Adding a tool").

/// An AI tool GhostTools sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    AgentWrite,
    PodScribe,
}

impl Tool {
    /// Every tool, in the order pages list them.
    pub const ALL: [Tool; 2] = [Tool::AgentWrite, Tool::PodScribe];

    /// Its name as people read it.
    pub fn name(self) -> &'static str {
        match self {
            Tool::AgentWrite => "AgentWrite",
            Tool::PodScribe => "PodScribe",
        }
    }

    /// Where its pages live: `/tools/agentwrite`; a run is `{prefix}/{id}`.
    pub fn path(self) -> &'static str {
        match self {
            Tool::AgentWrite => "/tools/agentwrite",
            Tool::PodScribe => "/tools/podscribe",
        }
    }

    /// A run's page.
    pub fn run_path(self, id: &str) -> String {
        format!("{}/{id}", self.path())
    }

    /// What a run in `status` offers for download (relative to its page), if anything: a
    /// description once written, a transcript once its text is stored.
    pub fn download(self, status: RunStatus) -> Option<&'static str> {
        match (self, status) {
            (Tool::AgentWrite, RunStatus::Done) => Some("download"),
            (Tool::PodScribe, RunStatus::Done | RunStatus::WritingNotes) => Some("transcript.txt"),
            _ => None,
        }
    }

    /// How a run in progress reads to its owner ("Writing…").
    pub fn working_label(self, status: RunStatus) -> &'static str {
        match (self, status) {
            (Tool::PodScribe, RunStatus::Transcribing) => "Transcribing…",
            (Tool::PodScribe, RunStatus::WritingNotes) => "Writing show notes…",
            _ => "Writing…",
        }
    }
}

/// One run as lists show it (history, the dashboard's recent work).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RunSummary {
    pub tool: Tool,
    pub id: String,
    /// The product name or the episode's file name.
    pub title: String,
    pub status: RunStatus,
    /// Done, but delivered shorter than asked for.
    pub cut_short: bool,
    pub created_at_ms: i64,
}

impl RunSummary {
    /// How its state reads to its owner.
    pub fn status_label(&self) -> &'static str {
        match self.status {
            RunStatus::Done if self.cut_short => "Done (cut short)",
            RunStatus::Done => "Done",
            RunStatus::Failed => "Failed (refunded)",
            working => self.tool.working_label(working),
        }
    }

    pub fn path(&self) -> String {
        self.tool.run_path(&self.id)
    }

    /// Where its result downloads from, once there is one.
    pub fn download_path(&self) -> Option<String> {
        self.tool.download(self.status).map(|file| format!("{}/{file}", self.path()))
    }
}

/// Where a tool's run is. AgentWrite: `Running` → `Done` | `Failed`. PodScribe:
/// `Transcribing` → `WritingNotes` → `Done`, or `Failed`. The stored words are the CHECK
/// constraints' (migrations/V5__tool_runs.sql; db::states maps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    Transcribing,
    WritingNotes,
    Done,
    Failed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Running,
        RunStatus::Transcribing,
        RunStatus::WritingNotes,
        RunStatus::Done,
        RunStatus::Failed,
    ];

    /// Still being worked on (a page showing it follows it).
    pub fn in_progress(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Transcribing | RunStatus::WritingNotes)
    }

    /// Settled for good: the owner may delete it (a run in progress settles first).
    pub fn is_settled(self) -> bool {
        matches!(self, RunStatus::Done | RunStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_exist_once_there_is_something_to_download() {
        assert_eq!(Tool::AgentWrite.download(RunStatus::Done), Some("download"));
        assert_eq!(Tool::AgentWrite.download(RunStatus::Running), None);
        assert_eq!(Tool::PodScribe.download(RunStatus::WritingNotes), Some("transcript.txt"));
        assert_eq!(Tool::PodScribe.download(RunStatus::Transcribing), None);
        assert!(Tool::ALL.iter().all(|t| t.download(RunStatus::Failed).is_none()));
    }

    #[test]
    fn only_settled_runs_are_deletable_and_every_state_is_one_or_the_other() {
        for s in RunStatus::ALL {
            assert_ne!(s.in_progress(), s.is_settled(), "{s:?}");
        }
        assert_eq!(Tool::PodScribe.run_path("ab"), "/tools/podscribe/ab");
    }
}
