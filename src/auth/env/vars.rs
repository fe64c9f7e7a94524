//! The deployment's variables as every part of the configuration reads them: trimmed, empty as
//! unset, numbers within bounds, and one error type that names the variable and never its value.

use core::fmt;

/// The first problem found, naming the variable. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable at fault, as the operator spells it.
    pub variable: &'static str,
    /// What is wrong with it, in words fit for an operator.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// A [`ConfigError`] about `variable`.
pub fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Reads variables through `lookup` (vars and secrets alike): trimmed, and empty counts as unset.
pub struct Vars<'a> {
    /// Answers a variable's raw value, or `None`.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// The trimmed value, `None` when unset or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// The value, or an error that says it is required.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| problem(name, "is required but not set"))
    }

    /// `true` or `false`, `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(problem(name, "must be `true` or `false`")),
        }
    }

    /// A number of seconds within `range` (inclusive), `default` when unset.
    pub fn seconds(
        &self,
        name: &'static str,
        default: i64,
        range: (i64, i64),
    ) -> Result<i64, ConfigError> {
        self.bounded(name, default, range, " seconds")
    }

    /// A count within `range` (inclusive), `default` when unset.
    pub fn count(
        &self,
        name: &'static str,
        default: u32,
        range: (u32, u32),
    ) -> Result<u32, ConfigError> {
        self.bounded(name, default, range, "")
    }

    /// A whole number within `range` (inclusive), `default` when unset; `unit` names what it
    /// counts in messages (" seconds", or "" for a plain count).
    pub fn bounded<T>(
        &self,
        name: &'static str,
        default: T,
        range: (T, T),
        unit: &str,
    ) -> Result<T, ConfigError>
    where
        T: core::str::FromStr + PartialOrd + fmt::Display,
    {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        let of = if unit.is_empty() { "" } else { " of" };
        let value: T = text
            .parse()
            .map_err(|_| problem(name, format!("must be a whole number{of}{unit}")))?;
        if value < range.0 || value > range.1 {
            return Err(problem(
                name,
                format!("must be between {} and {}{unit}", range.0, range.1),
            ));
        }
        Ok(value)
    }
}
