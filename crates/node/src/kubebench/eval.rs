//! kube-bench's evaluator (`check/test.go`, `check/check.go`): how a test item finds its value in
//! an audit output (flag, JSONPath on a YAML/JSON config, environment variable), `compareOp`'s
//! operators and messages, `bin_op`, and the state of a check.

use super::jsonpath;
use super::model::{Check, TestItem, Tests};

/// Which audit output a test item read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditUsed {
    /// `audit`.
    Command,
    /// `audit_config`.
    Config,
    /// `audit_env`.
    Env,
}

/// One test item's (or a whole test's) result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestOutput {
    /// Passed.
    pub test_result: bool,
    /// The flag/path/env was found.
    pub flag_found: bool,
    /// The audit output it read (or the error).
    pub actual_result: String,
    /// kube-bench's human-readable expectation.
    pub expected_result: String,
}

/// `compareOp(op, flagVal, compareValue, flagName)`: (expected-result text, result).
#[must_use]
pub fn compare_op(op: &str, flag_val: &str, compare_value: &str, flag_name: &str) -> (String, bool) {
    let with = |pattern: &str, r: bool| (pattern.replacen("%s", flag_name, 1).replacen("%s", compare_value, 1), r);
    match op {
        "eq" | "noteq" => {
            let lower = flag_val.to_lowercase();
            let eq =
                if lower == "false" || lower == "true" { lower == compare_value } else { flag_val == compare_value };
            if op == "eq" { with("'%s' is equal to '%s'", eq) } else { with("'%s' is not equal to '%s'", !eq) }
        }
        "gt" | "gte" | "lt" | "lte" => {
            let (Some(a), Some(b)) = (go_atoi(flag_val), go_atoi(compare_value)) else {
                return (format!("Invalid Number(s) used for comparison: '{flag_val}' '{compare_value}'"), false);
            };
            match op {
                "gt" => with("'%s' is greater than %s", a > b),
                "gte" => with("'%s' is greater or equal to %s", a >= b),
                "lt" => with("'%s' is lower than %s", a < b),
                _ => with("'%s' is lower or equal to %s", a <= b),
            }
        }
        "has" => with("'%s' has '%s'", flag_val.contains(compare_value)),
        "nothave" => with("'%s' does not have '%s'", !flag_val.contains(compare_value)),
        "regex" => {
            // Go's regexp.MustCompile panics on a bad expression; we fail the item instead.
            let r = regex::Regex::new(compare_value).is_ok_and(|re| re.is_match(flag_val));
            with("'%s' matched by regex expression '%s'", r)
        }
        "valid_elements" => {
            let s = split_remove_last(flag_val, ",");
            let t = split_remove_last(compare_value, ",");
            with("'%s' contains valid elements from '%s'", all_elements_valid(&s, &t))
        }
        "bitmask" => {
            let Ok(requested) = i64::from_str_radix(flag_val, 8) else {
                return (format!("Not numeric value - flag: {flag_val}"), false);
            };
            let Ok(max) = i64::from_str_radix(compare_value, 8) else {
                return (format!("Not numeric value - flag: {compare_value}"), false);
            };
            let pattern = format!("%s has permissions {flag_val}, expected %s or more restrictive");
            with(&pattern, (max & requested) == requested)
        }
        _ => (String::new(), false),
    }
}

/// Go's `strconv.Atoi(strings.TrimSpace(s))`.
fn go_atoi(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn split_remove_last(s: &str, sep: &str) -> Vec<String> {
    let clean = s.trim().trim_end_matches(sep);
    if clean.is_empty() {
        return Vec::new();
    }
    clean.split(sep).map(|x| x.trim().to_owned()).collect()
}

fn all_elements_valid(s: &[String], t: &[String]) -> bool {
    if s.is_empty() && t.is_empty() {
        return true;
    }
    if s.is_empty() || t.is_empty() {
        return false;
    }
    s.iter().all(|sv| t.contains(sv))
}

impl TestItem {
    fn name(&self, used: AuditUsed) -> &str {
        match used {
            AuditUsed::Config => &self.path,
            AuditUsed::Env => &self.env,
            AuditUsed::Command => &self.flag,
        }
    }

    fn find_value(&self, s: &str, used: AuditUsed) -> Result<(bool, String), String> {
        match used {
            AuditUsed::Env => {
                if s.is_empty() || self.env.is_empty() {
                    return Ok((false, String::new()));
                }
                let Ok(re) = regex::Regex::new(&format!("{}=.*(?:$|\\n)", self.env)) else {
                    return Ok((false, String::new()));
                };
                let found = re.find(s).map_or("", |m| m.as_str());
                let out = found.replacen('\n', "", 1).replacen(&format!("{}=", self.env), "", 1);
                Ok((!out.is_empty(), out))
            }
            AuditUsed::Config => {
                let doc = jsonpath::unmarshal(s)
                    .map_err(|e| format!("failed to load YAML or JSON from input \"{s}\": {e}"))?;
                let v = jsonpath::execute(&self.path, &doc)
                    .map_err(|e| format!("unable to parse path expression \"{}\": {e}", self.path))?;
                Ok((!v.is_empty(), v))
            }
            AuditUsed::Command => {
                if s.is_empty() || self.flag.is_empty() || !s.contains(&self.flag) {
                    return Ok((false, String::new()));
                }
                let re = regex::Regex::new(&format!(r"({})(=|: *)*([^\s]*) *", self.flag))
                    .map_err(|_| format!("invalid flag in testItem definition: {s}"))?;
                let Some(caps) = re.captures(s) else {
                    return Err(format!("invalid flag in testItem definition: {s}"));
                };
                let v3 = caps.get(3).map_or("", |m| m.as_str());
                let value = if !v3.is_empty() {
                    v3.to_owned()
                } else if let Some(v) = self.space_separated_value(s) {
                    v
                } else if self.flag.starts_with("--") {
                    "true".to_owned()
                } else {
                    caps.get(1).map_or("", |m| m.as_str()).to_owned()
                };
                Ok((true, value))
            }
        }
    }

    fn space_separated_value(&self, s: &str) -> Option<String> {
        if self.compare.op.is_empty() {
            return None;
        }
        let re = regex::Regex::new(&format!(r"{}\s+([^\s-][^\s]*)", regex::escape(&self.flag))).ok()?;
        re.captures(s).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned())
    }

    fn evaluate(&self, s: &str, used: AuditUsed) -> TestOutput {
        let (found, value) = match self.find_value(s, used) {
            Ok(x) => x,
            Err(e) => return TestOutput { actual_result: e, ..TestOutput::default() },
        };
        let name = self.name(used);
        let (expected, result) = if self.set {
            if found && !self.compare.op.is_empty() {
                compare_op(&self.compare.op, &value, &self.compare.value, name)
            } else {
                (format!("'{name}' is present"), found)
            }
        } else {
            (format!("'{name}' is not present"), !found)
        };
        TestOutput { test_result: result, flag_found: found, actual_result: String::new(), expected_result: expected }
    }

    /// `testItem.execute`: one output (or each of its lines with `use_multiple_values`).
    #[must_use]
    pub fn execute(&self, s: &str, used: AuditUsed, multiple: bool) -> TestOutput {
        let s = s.trim_end_matches([' ', '\n']);
        let rows: Vec<&str> = if multiple { s.split('\n').collect() } else { vec![s] };
        let mut result = TestOutput::default();
        for row in rows {
            result = self.evaluate(row, used);
            if !result.test_result {
                break;
            }
        }
        result.actual_result = s.to_owned();
        result
    }
}

/// The three audit outputs of a check.
#[derive(Clone, Debug, Default)]
pub struct AuditOutputs {
    /// `audit`'s output.
    pub audit: String,
    /// `audit_config`'s output.
    pub config: String,
    /// `audit_env`'s output.
    pub env: String,
}

/// `Check.execute`: every test item on the outputs (audit first, then audit_config, then
/// audit_env), combined with `bin_op`.
///
/// # Errors
/// An unknown `bin_op`.
pub fn execute_tests(
    tests: &Tests,
    has_audit_config: bool,
    multiple: bool,
    out: &AuditOutputs,
) -> Result<TestOutput, String> {
    let mut res = Vec::new();
    for t in &tests.test_items {
        let mut r = t.execute(&out.audit, AuditUsed::Command, multiple);
        if !r.flag_found && has_audit_config {
            r = t.execute(&out.config, AuditUsed::Config, multiple);
            if !r.flag_found && !t.env.is_empty() {
                r = t.execute(&out.env, AuditUsed::Env, multiple);
            }
        }
        if !r.flag_found && !t.env.is_empty() {
            r = t.execute(&out.env, AuditUsed::Env, multiple);
        }
        res.push(r);
    }
    let expected: Vec<&str> = res.iter().map(|r| r.expected_result.as_str()).collect();
    let (result, joined) = match tests.bin_op.as_str() {
        "and" | "" => (res.iter().all(|r| r.test_result), expected.join(" AND ")),
        "or" => (res.iter().any(|r| r.test_result), expected.join(" OR ")),
        other => return Err(format!("unknown binary operator for tests {other}")),
    };
    Ok(TestOutput {
        test_result: result,
        flag_found: false,
        actual_result: res.first().map(|r| r.actual_result.clone()).unwrap_or_default(),
        expected_result: joined,
    })
}

/// A check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// PASS.
    Pass,
    /// FAIL.
    Fail,
    /// WARN.
    Warn,
    /// INFO.
    Info,
}

impl State {
    /// As kube-bench prints it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::Info => "INFO",
        }
    }
}

/// How one audit command ended.
#[derive(Clone, Debug, Default)]
pub struct AuditRun {
    /// stdout and stderr together, as kube-bench captures them.
    pub output: String,
    /// `Some(message)` when it exited non-zero, timed out or could not start.
    pub error: Option<String>,
}

/// A check's result.
#[derive(Clone, Debug)]
pub struct CheckResult {
    /// The state.
    pub state: State,
    /// Why (manual, skip, errors).
    pub reason: String,
    /// The audit output the tests read.
    pub actual_value: String,
    /// The expectation text.
    pub expected_result: String,
    /// The audit outputs (for the report).
    pub outputs: AuditOutputs,
}

/// `Check.run`: the state of a check, running its audits through `run` (command → result).
pub fn run_check(c: &Check, run: &mut dyn FnMut(&str) -> AuditRun) -> CheckResult {
    let done = |state, reason: &str| CheckResult {
        state,
        reason: reason.to_owned(),
        actual_value: String::new(),
        expected_result: String::new(),
        outputs: AuditOutputs::default(),
    };
    let fail_or_warn = if c.scored { State::Fail } else { State::Warn };
    if c.scored && c.type_.trim().is_empty() && c.tests.is_none() {
        return done(State::Warn, "There are no tests");
    }
    if c.type_ == "skip" {
        return done(State::Info, "Test marked as skip");
    }
    if c.type_ == "manual" {
        return done(State::Warn, "Test marked as a manual test");
    }
    let Some(tests) = c.tests.as_ref().filter(|t| !t.test_items.is_empty()) else {
        return done(fail_or_warn, "No tests defined");
    };
    let mut outputs = AuditOutputs::default();
    let mut error = None;
    let mut audit =
        |cmd: &str| -> AuditRun { if cmd.trim().is_empty() { AuditRun::default() } else { run(cmd.trim()) } };
    if !c.audit_env.is_empty() {
        let r = audit(&c.audit_env);
        outputs.env = r.output;
        error = r.error;
    }
    if error.is_none() {
        let r = audit(&c.audit);
        outputs.audit = r.output;
        error = r.error;
        if error.is_none() {
            let r = audit(&c.audit_config);
            outputs.config = r.output;
            error = r.error;
            if let Some(e) = &error
                && (e.contains("exit status 127") || e.contains("No such file or directory"))
                && (!outputs.env.is_empty() || !outputs.audit.is_empty())
            {
                error = None;
                outputs.config.clear();
            }
        }
    }
    let mut result = CheckResult {
        state: fail_or_warn,
        reason: String::new(),
        actual_value: String::new(),
        expected_result: String::new(),
        outputs: AuditOutputs::default(),
    };
    let mut err = error;
    if err.is_none() {
        match execute_tests(tests, !c.audit_config.is_empty(), c.use_multiple_values, &outputs) {
            Ok(o) => {
                result.state = if o.test_result { State::Pass } else { fail_or_warn };
                result.actual_value = o.actual_result;
                result.expected_result = o.expected_result;
            }
            Err(e) => err = Some(e),
        }
    }
    if let Some(e) = err {
        result.reason = e;
        result.state = fail_or_warn;
    }
    result.outputs = outputs;
    result
}
