//! The abstract syntax of a query. Every evaluator (the in-memory reference evaluator here, the tantivy
//! translation in `acta-store`) consumes exactly this type, so the meaning lives in one place.

/// A parsed query. The empty query is [`Query::All`].
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Matches every event.
    All,
    /// Every child matches (implicit AND, `AND`, `&&`, `and` between terms).
    And(Vec<Query>),
    /// Some child matches (`OR`, `||`, `or` between terms, and the values of a list `field:[a,b]`).
    Or(Vec<Query>),
    /// The child does not match (`-`, `NOT`, `!`, `not` before a field condition or group).
    Not(Box<Query>),
    /// Free text: the tokens appear consecutively in the raw line of the event.
    Text(Sequence),
    /// A condition on one field; arrays match when any element matches; a missing field matches nothing.
    Field(Field, FieldCond),
}

impl Query {
    /// The fields the query puts conditions on, each once, in the order they first appear.
    pub fn fields(&self) -> Vec<&Field> {
        fn walk<'a>(query: &'a Query, fields: &mut Vec<&'a Field>) {
            match query {
                Query::And(children) | Query::Or(children) => children.iter().for_each(|child| walk(child, fields)),
                Query::Not(child) => walk(child, fields),
                Query::Field(field, _) if !fields.contains(&field) => fields.push(field),
                Query::Field(..) | Query::All | Query::Text(_) => {}
            }
        }
        let mut fields = Vec::new();
        walk(self, &mut fields);
        fields
    }
}

/// Consecutive tokens. An empty sequence matches every raw line (and, in a field, every present value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence(pub Vec<TokenPattern>);

/// How one token of a sequence is matched. Texts are already lowercased by the tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPattern {
    /// The whole token equals this text.
    Exact(String),
    /// The token starts with this text.
    Prefix(String),
    /// The whole token matches this glob, where `*` stands for any run of characters (possibly empty).
    /// Never a lone `*`-free text: the parser uses `Exact` or `Prefix` for those.
    Wildcard(String),
}

/// What a field condition tests.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldCond {
    /// The field's text contains the tokens consecutively (`field:value`, `field:"phrase"`).
    Tokens(Sequence),
    /// The whole value equals the text: `:==` (case-insensitive) and `:===` (case-sensitive).
    Equals {
        /// The text as written in the query; a case-insensitive comparison lowercases both sides.
        value: String,
        /// True for `:===`; false for `:==`, `field_str:` and values without tokens (`field:"-"`).
        case_sensitive: bool,
    },
    /// The value starts with the text, case-sensitive (`:=`).
    Prefix(String),
    /// The field exists and is not null (`field:*`).
    Exists,
    /// Numeric comparison: a number, or a string that parses as one; other values never match.
    Compare(CmpOp, f64),
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` (inside a compound `field:(=404)`)
    Eq,
}

/// A field a condition applies to, after aliases are resolved (`level` is `severity`, `x_str` is `x`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A dotted path into the event JSON, split at dots (`initiator.host.agent`). Case-sensitive.
    Path(Vec<String>),
    /// `_platform`: the part of `action` before its first dot.
    Platform,
    /// `_account`: the account the event is stored in.
    Account,
    /// `_instance`: the instance the event is stored in.
    Instance,
    /// `_region`: the region of that instance.
    Region,
    /// `_received`: when Acta accepted the event (RFC 3339 text).
    Received,
}
