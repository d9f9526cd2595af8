//! The engine's errors, typed by who has to act: the caller (a mistake, told why), the state of
//! things (a conflict, or nothing found), the moment (busy or stopping: try again), or us (an
//! internal failure: logged in full, shown as a polite sentence). Every edge maps them once:
//! HTTP through [`ErrorKind::status`], chat channels through [`PipelineError::user_message`].

use crate::store::StoreError;

/// Pipeline failures.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request is invalid as asked: an unknown intent or persona, an empty reply.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state: nothing waits for feedback.
    #[error("{0}")]
    Refused(String),
    /// The engine cannot take it now (shutting down): try again.
    #[error("{0}")]
    Unavailable(String),
    /// Our failure (a task that panicked): logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// Who has to act on an error, and so how each edge reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's mistake (HTTP 422), with the reason.
    Invalid,
    /// Nothing by that id (404).
    NotFound,
    /// Refused in the current state (409), with the reason.
    Conflict,
    /// Busy or stopping (503): try again.
    Unavailable,
    /// Ours (500): logged; the caller sees a generic sentence.
    Internal,
}

impl ErrorKind {
    /// The HTTP status for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 422,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

impl PipelineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Invalid(_) => ErrorKind::Invalid,
            PipelineError::Refused(_) => ErrorKind::Conflict,
            PipelineError::Unavailable(_) => ErrorKind::Unavailable,
            PipelineError::Internal(_) => ErrorKind::Internal,
            PipelineError::Store(e) => match e {
                StoreError::NotFound { .. } => ErrorKind::NotFound,
                StoreError::Conflict(_) => ErrorKind::Conflict,
                StoreError::Invalid(_) => ErrorKind::Invalid,
                StoreError::Unavailable(_) => ErrorKind::Unavailable,
                StoreError::Sled(_)
                | StoreError::Json(_)
                | StoreError::Io(_)
                | StoreError::Refused(_)
                | StoreError::Corrupt(_) => ErrorKind::Internal,
            },
        }
    }

    /// What the person who asked is told: the reason, unless the failure is ours (then a polite
    /// sentence; the details go to the log).
    pub fn user_message(&self) -> String {
        match self.kind() {
            ErrorKind::Internal => INTERNAL.into(),
            _ => self.to_string(),
        }
    }
}

/// The sentence shown for an internal failure.
pub use crate::core::wording::INTERNAL;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_one_kind_status_and_message() {
        let cases: Vec<(PipelineError, ErrorKind, u16, &str)> = vec![
            (
                PipelineError::Invalid("unknown intent `x`".into()),
                ErrorKind::Invalid,
                422,
                "unknown intent `x`",
            ),
            (
                StoreError::NotFound {
                    what: "ticket",
                    id: 9,
                }
                .into(),
                ErrorKind::NotFound,
                404,
                "ticket 9 not found",
            ),
            (
                StoreError::Conflict("ticket #1 is resolved".into()).into(),
                ErrorKind::Conflict,
                409,
                "ticket #1 is resolved",
            ),
            (
                PipelineError::Refused("nothing waits for feedback".into()),
                ErrorKind::Conflict,
                409,
                "nothing waits for feedback",
            ),
            (
                StoreError::Invalid("a relabel needs an intent".into()).into(),
                ErrorKind::Invalid,
                422,
                "a relabel needs an intent",
            ),
            (
                PipelineError::Unavailable("the server is shutting down".into()),
                ErrorKind::Unavailable,
                503,
                "the server is shutting down",
            ),
            (
                StoreError::Unavailable("the store writer stopped".into()).into(),
                ErrorKind::Unavailable,
                503,
                "the store writer stopped",
            ),
            (
                PipelineError::Internal("task panicked at src/x.rs:1".into()),
                ErrorKind::Internal,
                500,
                INTERNAL,
            ),
            (
                StoreError::Io(std::io::Error::other("disk /var/lib/x full")).into(),
                ErrorKind::Internal,
                500,
                INTERNAL,
            ),
        ];
        for (e, kind, status, message) in cases {
            assert_eq!((e.kind(), e.kind().status()), (kind, status), "{e:?}");
            assert_eq!(e.user_message(), message, "{e:?}");
        }
    }
}
