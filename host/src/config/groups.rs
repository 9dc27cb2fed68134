//! A step's `group`: neighbouring steps that share one run at once. The
//! checker sees the steps in order and refuses a group split by other steps.

use std::collections::HashMap;

use super::checker::Checker;
use super::diag::Pos;
use super::tree::Node;
use crate::plan::MAX_GROUP_STEPS;

/// Reads each step's `group` and checks that a group's steps are
/// neighbours: a group is one batch of steps run at once, so a step of it
/// after another group or a lone step would have no batch to join.
#[derive(Default)]
pub struct GroupChecker {
    /// The group of the step before (`None`: it had none).
    previous: Option<String>,
    /// Where each group began, its first step's name, and its steps so far.
    began: HashMap<String, (Pos, String, usize)>,
}

impl GroupChecker {
    /// The group of the step `item`, checked.
    pub fn next(
        &mut self,
        c: &mut Checker,
        item: &Node,
        what: &str,
        name: Option<&str>,
    ) -> Option<String> {
        let pos = item.get("group").map_or(item.pos, |n| n.pos);
        let group = match c.opt_str(item, "group", what) {
            Some(g) if g.trim().is_empty() => {
                c.error(
                    pos,
                    format!("`group` of {what} is empty"),
                    Some("name the group, e.g. `group: submissions`, or remove the key".into()),
                );
                None
            }
            other => other,
        };
        if let Some(g) = &group {
            match self.began.get_mut(g) {
                Some((first, first_step, _)) if self.previous.as_ref() != Some(g) => c.error(
                    pos,
                    format!("{what} is in group `{g}`, whose other steps are not next to it"),
                    Some(format!(
                        "the group begins with step `{first_step}` at line {}; a group's steps run \
                         at once, so list them one after another",
                        first.line
                    )),
                ),
                Some((first, first_step, steps)) => {
                    *steps += 1;
                    if *steps == MAX_GROUP_STEPS + 1 {
                        c.error(
                            pos,
                            format!(
                                "group `{g}` has more than {MAX_GROUP_STEPS} steps; {what} is one too many"
                            ),
                            Some(format!(
                                "the group begins with step `{first_step}` at line {}; every step \
                                 of a group holds an instance and its memory at once, so split it \
                                 into groups that run one after another",
                                first.line
                            )),
                        );
                    }
                }
                None => {
                    let first = name.unwrap_or("?").to_string();
                    self.began.insert(g.clone(), (pos, first, 1));
                }
            }
        }
        self.previous.clone_from(&group);
        group
    }
}
