//! Cost formulas: small arithmetic expressions over the fields of one order, parsed once and
//! evaluated in Rust with no allocation (used by `Formula` fee and slippage models).
//!
//! ## Why not an expression crate
//! The well-known crates were checked first: `evalexpr` evaluates a dynamic `Value` enum through a
//! string-keyed context (allocations and hash lookups per evaluation); `fasteval` (and its forks
//! `fasteval2`/`fasteval3`) looks variables up by name through a callback on every evaluation, has no
//! conditional expression and reports errors without a column; `meval` is unmaintained and has no
//! comparisons. A cost formula needs a dozen fixed variables, comparisons and conditionals, errors that
//! point at a column, and an evaluation that is a tight loop over a few opcodes. That is a ~500-line
//! Pratt parser plus a stack machine, written here with its own tests.
//!
//! ## Language
//! ```text
//! expr    := cond ('?' expr ':' expr)?            right-associative conditional
//! cond    := a || b, a && b                        logical, short-circuit, result 1.0 or 0.0
//!          | a == b, a != b, a < b, a <= b, a > b, a >= b   result 1.0 or 0.0; not chainable
//!          | a + b, a - b, a * b, a / b, a % b     IEEE f64; % is fmod (sign of the dividend)
//!          | -a, +a, !a, a ^ b                     ^ is powf, binds tighter than unary minus:
//!                                                  -2^2 == -4; right-associative
//! primary := number | variable | function '(' args ')' | '(' expr ')'
//! number  := 12, 1.5, .5, 1e6, 2.5e-3, 1_000_000
//! ```
//! Functions: `if(c, a, b)`, `min(a, b, ...)`, `max(a, b, ...)`, `abs(a)`, `floor(a)`, `ceil(a)`,
//! `round(a)` (half away from zero), `sqrt(a)`. A value is true when it is not 0.0.
//!
//! Variables (see [`CostInputs`] for units): `lots`, `price`, `notional`, `contract_size`, `pip`,
//! `side`, `direction`, `is_entry`, `hour`, `minute`, `weekday`, `atr`, `spread`, `u`.
//!
//! Constant subexpressions are folded at parse time (with the same operations as at run time, so
//! results are identical). Evaluation is deterministic: plain IEEE f64 operations in a fixed order.

use std::fmt;

/// Number of formula variables.
pub const NVARS: usize = 14;

/// Variable names in index order (the order of [`CostInputs::vars`]).
pub const VARIABLES: [&str; NVARS] = [
    "lots",
    "price",
    "notional",
    "contract_size",
    "pip",
    "side",
    "direction",
    "is_entry",
    "hour",
    "minute",
    "weekday",
    "atr",
    "spread",
    "u",
];

/// Function names a formula may call.
pub const FUNCTIONS: [&str; 8] = ["if", "min", "max", "abs", "floor", "ceil", "round", "sqrt"];

/// Maximum evaluation stack a formula may need.
const MAX_STACK: usize = 32;
/// Maximum parenthesis / call nesting accepted by the parser (protects the parser's own stack).
const MAX_NESTING: usize = 64;
/// Maximum formula length in bytes.
const MAX_LEN: usize = 4096;

/// What a cost model (a formula or a callback) sees of one order. Prices are in the symbol's quote
/// currency; amounts as documented per field.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostInputs {
    /// Size of the order in lots. For entry slippage (which is decided before sizing) this is the
    /// size computed at the price before slippage.
    pub lots: f64,
    /// Price of the order: the fill price for fees, the price before slippage for slippage.
    pub price: f64,
    /// `lots * contract_size * price`: in the fee currency for fee models (as the built-in
    /// notional schemas), in the quote currency for slippage models.
    pub notional: f64,
    pub contract_size: f64,
    /// The symbol's pip size.
    pub pip: f64,
    /// Order side: +1 for a buy (long entry, short exit), −1 for a sell.
    pub side: f64,
    /// Position direction: +1 long, −1 short.
    pub direction: f64,
    /// 1 for the order that opens the position, 0 for the one that closes it.
    pub is_entry: f64,
    /// UTC hour (0–23), minute (0–59) and weekday (0 = Monday … 6 = Sunday) of the event.
    pub hour: f64,
    pub minute: f64,
    pub weekday: f64,
    /// The latest ATR the caller set for the symbol (price units; 0 when none was set).
    pub atr: f64,
    /// The spread at the event (ask − bid, price units; see the simulator docs for which quote).
    pub spread: f64,
    /// Slippage models: the event's uniform draw in [0, 1) (deterministic per event). Fee models: 0.
    pub u: f64,
    /// Event timestamp (µs since the epoch, UTC); not a formula variable.
    pub ts: i64,
}

impl CostInputs {
    /// The variables in [`VARIABLES`] order.
    #[inline]
    pub fn vars(&self) -> [f64; NVARS] {
        [
            self.lots,
            self.price,
            self.notional,
            self.contract_size,
            self.pip,
            self.side,
            self.direction,
            self.is_entry,
            self.hour,
            self.minute,
            self.weekday,
            self.atr,
            self.spread,
            self.u,
        ]
    }

    /// Sets `hour`, `minute` and `weekday` from `ts` (UTC).
    #[inline]
    pub fn with_time(mut self, ts: i64) -> Self {
        let secs = ts.div_euclid(1_000_000);
        let day = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        self.ts = ts;
        self.hour = (sod / 3600) as f64;
        self.minute = ((sod % 3600) / 60) as f64;
        // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        self.weekday = (day + 3).rem_euclid(7) as f64;
        self
    }
}

/// A formula that could not be parsed: where (1-based column, in characters) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FormulaError {
    pub column: usize,
    pub message: String,
    pub source: String,
}

impl FormulaError {
    /// Two lines: the formula and a caret under the column.
    pub fn excerpt(&self) -> String {
        let line: String = self
            .source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("  {line}\n  {}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

impl FormulaError {
    /// The coded error (1008 FORMULA_SYNTAX) for the config field that held the formula.
    pub fn into_exec(self, field: impl Into<String>) -> crate::error::ExecError {
        crate::error::ExecError::FormulaSyntax {
            field: field.into(),
            excerpt: self.excerpt(),
            message: self.message,
            column: self.column,
        }
    }
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at column {}\n{}",
            self.message,
            self.column,
            self.excerpt()
        )
    }
}

impl std::error::Error for FormulaError {}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Const(f64),
    Var(u8),
    Neg,
    Not,
    Truthy,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Min,
    Max,
    Abs,
    Floor,
    Ceil,
    Round,
    Sqrt,
    /// Pops; jumps when the value is 0.0.
    JumpIfFalse(u32),
    Jump(u32),
}

/// A parsed formula: compact bytecode for a small stack machine.
#[derive(Clone)]
pub struct Formula {
    source: String,
    code: Box<[Op]>,
    /// Bit i set: variable i is referenced.
    uses: u32,
}

impl fmt::Debug for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Formula").field(&self.source).finish()
    }
}

impl PartialEq for Formula {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Formula {
    /// Parses and compiles `source`.
    pub fn parse(source: &str) -> Result<Formula, FormulaError> {
        let err = |column: usize, message: String| FormulaError {
            column,
            message,
            source: source.to_string(),
        };
        if source.len() > MAX_LEN {
            return Err(err(
                1,
                format!("formula is {} bytes long, at most {MAX_LEN}", source.len()),
            ));
        }
        let tokens = lex(source).map_err(|(pos, m)| err(column_of(source, pos), m))?;
        let mut p = Parser {
            src: source,
            tokens: &tokens,
            i: 0,
            nesting: 0,
        };
        let node = p
            .expr(0)
            .and_then(|n| match p.peek().kind {
                Tok::End => Ok(n),
                _ => Err(p.unexpected("an operator or the end of the formula")),
            })
            .map_err(|(pos, m)| err(column_of(source, pos), m))?;
        let node = fold(node);
        let need = depth(&node);
        if need > MAX_STACK {
            return Err(err(
                1,
                format!("formula nests too deeply (needs {need} stack slots, at most {MAX_STACK})"),
            ));
        }
        let mut code = Vec::new();
        let mut uses = 0u32;
        emit(&node, &mut code, &mut uses);
        Ok(Formula {
            source: source.to_string(),
            code: code.into_boxed_slice(),
            uses,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the formula references the variable `name`.
    pub fn uses(&self, name: &str) -> bool {
        VARIABLES
            .iter()
            .position(|v| *v == name)
            .is_some_and(|i| self.uses & (1 << i) != 0)
    }

    /// The value for `inputs`. May be non-finite (e.g. a division by zero); callers check.
    #[inline]
    pub fn eval_inputs(&self, inputs: &CostInputs) -> f64 {
        self.eval(&inputs.vars())
    }

    /// The value for variables in [`VARIABLES`] order. Allocates nothing.
    pub fn eval(&self, vars: &[f64; NVARS]) -> f64 {
        let mut st = [0.0f64; MAX_STACK];
        let mut sp = 0usize;
        let mut pc = 0usize;
        let code = &self.code[..];
        // The parser bounded the stack depth by MAX_STACK, so the indexing below cannot go out of
        // bounds; binary ops always find two operands (the bytecode comes only from `emit`).
        macro_rules! bin {
            ($f:expr) => {{
                sp -= 1;
                let b = st[sp];
                let a = st[sp - 1];
                st[sp - 1] = $f(a, b);
            }};
        }
        macro_rules! un {
            ($f:expr) => {{
                let a = st[sp - 1];
                st[sp - 1] = $f(a);
            }};
        }
        while pc < code.len() {
            match code[pc] {
                Op::Const(c) => {
                    st[sp] = c;
                    sp += 1;
                }
                Op::Var(i) => {
                    st[sp] = vars[i as usize];
                    sp += 1;
                }
                Op::Neg => un!(|a: f64| -a),
                Op::Not => un!(|a: f64| b2f(a == 0.0)),
                Op::Truthy => un!(|a: f64| b2f(a != 0.0)),
                Op::Abs => un!(f64::abs),
                Op::Floor => un!(f64::floor),
                Op::Ceil => un!(f64::ceil),
                Op::Round => un!(f64::round),
                Op::Sqrt => un!(f64::sqrt),
                Op::Add => bin!(|a, b| a + b),
                Op::Sub => bin!(|a, b| a - b),
                Op::Mul => bin!(|a, b| a * b),
                Op::Div => bin!(|a, b| a / b),
                Op::Rem => bin!(|a: f64, b| a % b),
                Op::Pow => bin!(f64::powf),
                Op::Lt => bin!(|a, b| b2f(a < b)),
                Op::Le => bin!(|a, b| b2f(a <= b)),
                Op::Gt => bin!(|a, b| b2f(a > b)),
                Op::Ge => bin!(|a, b| b2f(a >= b)),
                Op::Eq => bin!(|a, b| b2f(a == b)),
                Op::Ne => bin!(|a, b| b2f(a != b)),
                Op::Min => bin!(f64::min),
                Op::Max => bin!(f64::max),
                Op::JumpIfFalse(t) => {
                    sp -= 1;
                    if st[sp] == 0.0 {
                        pc = t as usize;
                        continue;
                    }
                }
                Op::Jump(t) => {
                    pc = t as usize;
                    continue;
                }
            }
            pc += 1;
        }
        st[0]
    }
}

#[inline]
fn b2f(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn column_of(src: &str, byte_pos: usize) -> usize {
    src.get(..byte_pos.min(src.len()))
        .map_or(1, |s| s.chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Num(f64),
    Ident(&'a str),
    Op(BinOp),
    Minus,
    Plus,
    Bang,
    LParen,
    RParen,
    Comma,
    Question,
    Colon,
    End,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Tok<'a>,
    pos: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    /// `min(a, b)` / `max(a, b)` (from calls, never from the lexer).
    Min,
    Max,
}

impl BinOp {
    /// (left binding power, right binding power).
    fn power(self) -> (u8, u8) {
        match self {
            BinOp::Or => (3, 4),
            BinOp::And => (5, 6),
            BinOp::Eq | BinOp::Ne => (7, 8),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => (9, 10),
            BinOp::Add | BinOp::Sub => (11, 12),
            BinOp::Mul | BinOp::Div | BinOp::Rem => (13, 14),
            // Right-associative and above unary minus (PREFIX_POWER).
            BinOp::Pow => (18, 17),
            // Not infix operators.
            BinOp::Min | BinOp::Max => (0, 0),
        }
    }

    fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }

    fn text(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Pow => "^",
            BinOp::Min => "min",
            BinOp::Max => "max",
        }
    }
}

/// Binding power of prefix `-`, `+`, `!`.
const PREFIX_POWER: u8 = 15;
/// Binding power of `?` (the lowest).
const TERNARY_POWER: u8 = 1;

/// The two-character operators, tried before the one-character ones (`<=` before `<`).
const TWO_CHAR_OPS: [(&[u8; 2], BinOp); 7] = [
    (b"||", BinOp::Or),
    (b"&&", BinOp::And),
    (b"==", BinOp::Eq),
    (b"!=", BinOp::Ne),
    (b"<=", BinOp::Le),
    (b">=", BinOp::Ge),
    (b"**", BinOp::Pow),
];

fn lex(src: &str) -> Result<Vec<Token<'_>>, (usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let kind =
            if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
                let (v, end) = lex_number(src, i)?;
                i = end;
                out.push(Token {
                    kind: Tok::Num(v),
                    pos: start,
                });
                continue;
            } else if c.is_ascii_alphabetic() || c == b'_' {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Ident(&src[start..i]),
                    pos: start,
                });
                continue;
            } else if let Some(&(_, op)) = TWO_CHAR_OPS
                .iter()
                .find(|(s, _)| b.get(i..i + 2) == Some(&s[..]))
            {
                i += 1;
                Tok::Op(op)
            } else {
                match c {
                    b'<' => Tok::Op(BinOp::Lt),
                    b'>' => Tok::Op(BinOp::Gt),
                    b'+' => Tok::Plus,
                    b'-' => Tok::Minus,
                    b'*' => Tok::Op(BinOp::Mul),
                    b'/' => Tok::Op(BinOp::Div),
                    b'%' => Tok::Op(BinOp::Rem),
                    b'^' => Tok::Op(BinOp::Pow),
                    b'!' => Tok::Bang,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    b'?' => Tok::Question,
                    b':' => Tok::Colon,
                    b'=' => return Err((start, "unexpected '=' (comparison is '==')".into())),
                    b'&' => return Err((start, "unexpected '&' (logical and is '&&')".into())),
                    b'|' => return Err((start, "unexpected '|' (logical or is '||')".into())),
                    _ => {
                        let ch = src[start..].chars().next().unwrap_or('?');
                        return Err((start, format!("unexpected character {ch:?}")));
                    }
                }
            };
        i += 1;
        out.push(Token { kind, pos: start });
    }
    out.push(Token {
        kind: Tok::End,
        pos: b.len(),
    });
    Ok(out)
}

/// A number starting at `start`: digits with optional `_` separators, fraction, exponent.
fn lex_number(src: &str, start: usize) -> Result<(f64, usize), (usize, String)> {
    let b = src.as_bytes();
    let mut i = start;
    let mut text = String::new();
    let digits = |i: &mut usize, text: &mut String| {
        let from = *i;
        while *i < b.len() && (b[*i].is_ascii_digit() || b[*i] == b'_') {
            if b[*i] != b'_' {
                text.push(b[*i] as char);
            }
            *i += 1;
        }
        *i > from
    };
    digits(&mut i, &mut text);
    if i < b.len() && b[i] == b'.' {
        text.push('.');
        i += 1;
        digits(&mut i, &mut text);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let epos = i;
        text.push('e');
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            text.push(b[i] as char);
            i += 1;
        }
        if !digits(&mut i, &mut text) {
            return Err((epos, "exponent without digits".into()));
        }
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_' || b[i] == b'.') {
        return Err((i, format!("unexpected {:?} after a number", b[i] as char)));
    }
    let ends_badly = src[start..i].ends_with('_') || src[start..i].contains("__");
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && !ends_badly => Ok((v, i)),
        _ => Err((start, format!("invalid number {:?}", &src[start..i]))),
    }
}

// ---------------------------------------------------------------------------------------------
// Parser (Pratt) -> AST

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Num(f64),
    Var(u8),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnOp {
    Neg,
    Not,
    Abs,
    Floor,
    Ceil,
    Round,
    Sqrt,
    /// `x != 0` as 1.0/0.0 (for the operands of `&&` and `||`).
    Truthy,
}

type PResult<T> = Result<T, (usize, String)>;

struct Parser<'a, 't> {
    src: &'a str,
    tokens: &'t [Token<'a>],
    i: usize,
    nesting: usize,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Token<'a> {
        self.tokens[self.i.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token<'a> {
        let t = self.peek();
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn describe(&self, t: &Token) -> String {
        match t.kind {
            Tok::End => "the end of the formula".into(),
            Tok::Num(_) | Tok::Ident(_) => {
                let end = self
                    .tokens
                    .iter()
                    .find(|n| n.pos > t.pos)
                    .map_or(self.src.len(), |n| n.pos);
                format!("'{}'", self.src[t.pos..end].trim_end())
            }
            Tok::Op(op) => format!("'{}'", op.text()),
            Tok::Minus => "'-'".into(),
            Tok::Plus => "'+'".into(),
            Tok::Bang => "'!'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Question => "'?'".into(),
            Tok::Colon => "':'".into(),
        }
    }

    fn unexpected(&self, wanted: &str) -> (usize, String) {
        let t = self.peek();
        (
            t.pos,
            format!("unexpected {}, expected {wanted}", self.describe(&t)),
        )
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err((
                pos,
                format!("formula nests deeper than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn expect(&mut self, kind: Tok<'static>, what: &str) -> PResult<()> {
        if self.peek().kind == kind {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Parses an expression whose operators bind tighter than `min_power`.
    fn expr(&mut self, min_power: u8) -> PResult<Node> {
        let mut lhs = self.prefix()?;
        // The comparison operator directly applied to `lhs`, to refuse `a < b < c`.
        let mut last_cmp = false;
        loop {
            let t = self.peek();
            match t.kind {
                Tok::Question => {
                    if TERNARY_POWER < min_power {
                        break;
                    }
                    self.next();
                    self.enter(t.pos)?;
                    let a = self.expr(0)?;
                    self.expect(Tok::Colon, "':' of the conditional")?;
                    let b = self.expr(TERNARY_POWER)?;
                    self.nesting -= 1;
                    lhs = Node::If(Box::new(lhs), Box::new(a), Box::new(b));
                    last_cmp = false;
                }
                Tok::Op(_) | Tok::Plus | Tok::Minus => {
                    let op = match t.kind {
                        Tok::Op(op) => op,
                        Tok::Plus => BinOp::Add,
                        _ => BinOp::Sub,
                    };
                    let (lp, rp) = op.power();
                    if lp < min_power {
                        break;
                    }
                    if op.is_comparison() && last_cmp {
                        return Err((
                            t.pos,
                            format!(
                                "comparisons cannot be chained ('{}' after a comparison); combine them with &&",
                                op.text()
                            ),
                        ));
                    }
                    self.next();
                    let rhs = self.expr(rp)?;
                    lhs = match op {
                        BinOp::And | BinOp::Or => Node::Binary(
                            op,
                            Box::new(Node::Unary(UnOp::Truthy, Box::new(lhs))),
                            Box::new(Node::Unary(UnOp::Truthy, Box::new(rhs))),
                        ),
                        _ => Node::Binary(op, Box::new(lhs), Box::new(rhs)),
                    };
                    last_cmp = op.is_comparison();
                }
                _ => break,
            }
        }
        Ok(lhs)
    }

    fn prefix(&mut self) -> PResult<Node> {
        let t = self.next();
        match t.kind {
            Tok::Num(v) => Ok(Node::Num(v)),
            Tok::Minus => Ok(Node::Unary(UnOp::Neg, Box::new(self.expr(PREFIX_POWER)?))),
            Tok::Plus => self.expr(PREFIX_POWER),
            Tok::Bang => Ok(Node::Unary(UnOp::Not, Box::new(self.expr(PREFIX_POWER)?))),
            Tok::LParen => {
                self.enter(t.pos)?;
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "')'")?;
                self.nesting -= 1;
                Ok(e)
            }
            Tok::Ident(name) => {
                if self.peek().kind == Tok::LParen {
                    let open = self.next();
                    self.enter(open.pos)?;
                    let args = self.args()?;
                    self.nesting -= 1;
                    call(name, t.pos, args)
                } else if let Some(i) = VARIABLES.iter().position(|v| *v == name) {
                    Ok(Node::Var(i as u8))
                } else if FUNCTIONS.contains(&name) {
                    Err((
                        t.pos,
                        format!("function '{name}' needs arguments in parentheses"),
                    ))
                } else {
                    Err((
                        t.pos,
                        format!(
                            "unknown variable '{name}'; known variables: {}",
                            VARIABLES.join(", ")
                        ),
                    ))
                }
            }
            _ => Err((
                t.pos,
                format!(
                    "unexpected {}, expected a number, a variable, a function or '('",
                    self.describe(&t)
                ),
            )),
        }
    }

    /// Arguments after '(' up to and including ')'.
    fn args(&mut self) -> PResult<Vec<Node>> {
        let mut args = Vec::new();
        if self.peek().kind == Tok::RParen {
            self.next();
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            match self.peek().kind {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {
                    self.next();
                    return Ok(args);
                }
                _ => return Err(self.unexpected("',' or ')'")),
            }
        }
    }
}

fn call(name: &str, pos: usize, mut args: Vec<Node>) -> PResult<Node> {
    let arity = |n: usize| -> PResult<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err((
                pos,
                format!(
                    "{name}() takes {n} argument{}, got {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
            ))
        }
    };
    let unary = |op: UnOp, args: &mut Vec<Node>| Node::Unary(op, Box::new(args.remove(0)));
    match name {
        "if" => {
            arity(3)?;
            let b = args.remove(2);
            let a = args.remove(1);
            let c = args.remove(0);
            Ok(Node::If(Box::new(c), Box::new(a), Box::new(b)))
        }
        "min" | "max" => {
            if args.len() < 2 {
                return Err((
                    pos,
                    format!("{name}() takes at least 2 arguments, got {}", args.len()),
                ));
            }
            let op = if name == "min" {
                BinOp::Min
            } else {
                BinOp::Max
            };
            let mut it = args.into_iter();
            let first = it.next().unwrap_or(Node::Num(f64::NAN));
            Ok(it.fold(first, |acc, n| Node::Binary(op, Box::new(acc), Box::new(n))))
        }
        "abs" => arity(1).map(|_| unary(UnOp::Abs, &mut args)),
        "floor" => arity(1).map(|_| unary(UnOp::Floor, &mut args)),
        "ceil" => arity(1).map(|_| unary(UnOp::Ceil, &mut args)),
        "round" => arity(1).map(|_| unary(UnOp::Round, &mut args)),
        "sqrt" => arity(1).map(|_| unary(UnOp::Sqrt, &mut args)),
        _ => Err((
            pos,
            format!(
                "unknown function '{name}'; known functions: {}",
                FUNCTIONS.join(", ")
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Folding, stack depth, code generation

#[inline]
fn apply_unary(op: UnOp, a: f64) -> f64 {
    match op {
        UnOp::Neg => -a,
        UnOp::Not => b2f(a == 0.0),
        UnOp::Truthy => b2f(a != 0.0),
        UnOp::Abs => a.abs(),
        UnOp::Floor => a.floor(),
        UnOp::Ceil => a.ceil(),
        UnOp::Round => a.round(),
        UnOp::Sqrt => a.sqrt(),
    }
}

/// The value of a binary node with constant operands: the same operations as [`Formula::eval`].
fn apply_binary(op: BinOp, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Lt => b2f(a < b),
        BinOp::Le => b2f(a <= b),
        BinOp::Gt => b2f(a > b),
        BinOp::Ge => b2f(a >= b),
        BinOp::Eq => b2f(a == b),
        BinOp::Ne => b2f(a != b),
        BinOp::Min => a.min(b),
        BinOp::Max => a.max(b),
        // Short-circuit operators are emitted as jumps; their operands are already truthy values.
        BinOp::And => b2f(a != 0.0 && b != 0.0),
        BinOp::Or => b2f(a != 0.0 || b != 0.0),
    })
}

/// Constant folding: subtrees without variables become numbers; a constant condition picks its
/// branch; `&&`/`||` with a constant left side short-circuit.
fn fold(n: Node) -> Node {
    match n {
        Node::Num(_) | Node::Var(_) => n,
        Node::Unary(op, a) => match fold(*a) {
            Node::Num(v) => Node::Num(apply_unary(op, v)),
            a => Node::Unary(op, Box::new(a)),
        },
        Node::Binary(op, a, b) => {
            let a = fold(*a);
            match (op, &a) {
                (BinOp::And, Node::Num(v)) if *v == 0.0 => return Node::Num(0.0),
                (BinOp::Or, Node::Num(v)) if *v != 0.0 => return Node::Num(1.0),
                _ => {}
            }
            let b = fold(*b);
            match (&a, &b) {
                (Node::Num(x), Node::Num(y)) => match apply_binary(op, *x, *y) {
                    Some(v) => Node::Num(v),
                    None => Node::Binary(op, Box::new(a), Box::new(b)),
                },
                _ => Node::Binary(op, Box::new(a), Box::new(b)),
            }
        }
        Node::If(c, a, b) => match fold(*c) {
            Node::Num(v) if v != 0.0 => fold(*a),
            Node::Num(_) => fold(*b),
            c => Node::If(Box::new(c), Box::new(fold(*a)), Box::new(fold(*b))),
        },
    }
}

/// Stack slots the node needs.
fn depth(n: &Node) -> usize {
    match n {
        Node::Num(_) | Node::Var(_) => 1,
        Node::Unary(_, a) => depth(a),
        // Short-circuit: the left value is popped by the jump before the right side runs.
        Node::Binary(BinOp::And | BinOp::Or, a, b) => depth(a).max(depth(b)),
        Node::Binary(_, a, b) => depth(a).max(1 + depth(b)),
        Node::If(c, a, b) => depth(c).max(depth(a)).max(depth(b)),
    }
}

fn emit(n: &Node, code: &mut Vec<Op>, uses: &mut u32) {
    match n {
        Node::Num(v) => code.push(Op::Const(*v)),
        Node::Var(i) => {
            *uses |= 1 << i;
            code.push(Op::Var(*i));
        }
        Node::Unary(op, a) => {
            emit(a, code, uses);
            code.push(match op {
                UnOp::Neg => Op::Neg,
                UnOp::Not => Op::Not,
                UnOp::Truthy => Op::Truthy,
                UnOp::Abs => Op::Abs,
                UnOp::Floor => Op::Floor,
                UnOp::Ceil => Op::Ceil,
                UnOp::Round => Op::Round,
                UnOp::Sqrt => Op::Sqrt,
            });
        }
        Node::Binary(BinOp::And, a, b) => {
            // a && b  ==  if(a, b, 0)   (both operands are already 1.0/0.0)
            emit_if(code, uses, a, b, &Node::Num(0.0));
        }
        Node::Binary(BinOp::Or, a, b) => {
            // a || b  ==  if(a, 1, b)
            emit_if(code, uses, a, &Node::Num(1.0), b);
        }
        Node::Binary(op, a, b) => {
            emit(a, code, uses);
            emit(b, code, uses);
            code.push(match op {
                BinOp::Add => Op::Add,
                BinOp::Sub => Op::Sub,
                BinOp::Mul => Op::Mul,
                BinOp::Div => Op::Div,
                BinOp::Rem => Op::Rem,
                BinOp::Pow => Op::Pow,
                BinOp::Lt => Op::Lt,
                BinOp::Le => Op::Le,
                BinOp::Gt => Op::Gt,
                BinOp::Ge => Op::Ge,
                BinOp::Eq => Op::Eq,
                BinOp::Ne => Op::Ne,
                BinOp::Min => Op::Min,
                BinOp::Max => Op::Max,
                // Handled above.
                BinOp::And | BinOp::Or => Op::Const(f64::NAN),
            });
        }
        Node::If(c, a, b) => emit_if(code, uses, c, a, b),
    }
}

fn emit_if(code: &mut Vec<Op>, uses: &mut u32, c: &Node, a: &Node, b: &Node) {
    emit(c, code, uses);
    let jf = code.len();
    code.push(Op::JumpIfFalse(0));
    emit(a, code, uses);
    let j = code.len();
    code.push(Op::Jump(0));
    let else_at = code.len() as u32;
    emit(b, code, uses);
    let end = code.len() as u32;
    code[jf] = Op::JumpIfFalse(else_at);
    code[j] = Op::Jump(end);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(src: &str) -> f64 {
        Formula::parse(src).unwrap().eval(&[0.0; NVARS])
    }

    fn ev_with(src: &str, inputs: &CostInputs) -> f64 {
        Formula::parse(src).unwrap().eval_inputs(inputs)
    }

    fn err(src: &str) -> FormulaError {
        Formula::parse(src).unwrap_err()
    }

    #[test]
    fn arithmetic_and_precedence() {
        assert_eq!(ev("1 + 2 * 3"), 7.0);
        assert_eq!(ev("(1 + 2) * 3"), 9.0);
        assert_eq!(ev("10 - 4 - 3"), 3.0);
        assert_eq!(ev("24 / 4 / 3"), 2.0);
        assert_eq!(ev("-2 ^ 2"), -4.0);
        assert_eq!(ev("(-2) ^ 2"), 4.0);
        assert_eq!(ev("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(ev("2 ** -1"), 0.5);
        assert_eq!(ev("7 % 3"), 1.0);
        assert_eq!(ev("-7 % 3"), -1.0);
        assert_eq!(ev("1_000_000 / 1e6"), 1.0);
        assert_eq!(ev(".5 + 1.5e1 + 2.5E-1"), 15.75);
        assert_eq!(ev("--3"), 3.0);
        assert_eq!(ev("+3 - -3"), 6.0);
        assert!(ev("1 / 0").is_infinite());
        assert!(ev("0 / 0").is_nan());
    }

    #[test]
    fn variables_and_hand_computed_fees() {
        let i = CostInputs {
            lots: 2.0,
            price: 1.1,
            notional: 220_000.0,
            contract_size: 100_000.0,
            pip: 0.0001,
            side: -1.0,
            direction: 1.0,
            is_entry: 0.0,
            atr: 0.0012,
            spread: 0.0002,
            u: 0.25,
            ..CostInputs::default()
        }
        .with_time(1_704_321_000_000_000); // 2024-01-03 22:30 UTC, a Wednesday
        assert_eq!((i.hour, i.minute, i.weekday), (22.0, 30.0, 2.0));
        assert_eq!(ev_with("lots * 3.5", &i), 7.0);
        // 30 per million on 220,000 = 6.6, with a minimum of 7
        assert_eq!(ev_with("notional * 30 / 1e6", &i), 220_000.0 * 30.0 / 1e6);
        assert_eq!(ev_with("max(7, notional * 30 / 1e6)", &i), 7.0);
        assert_eq!(
            ev_with("lots * contract_size * price", &i),
            2.0 * 100_000.0 * 1.1
        );
        assert_eq!(ev_with("atr / pip", &i), 0.0012 / 0.0001);
        assert_eq!(ev_with("spread / pip * 0.5", &i), 0.0002 / 0.0001 * 0.5);
        assert_eq!(ev_with("side * 10 + direction", &i), -9.0);
        assert_eq!(ev_with("is_entry ? 1 : 2", &i), 2.0);
        assert_eq!(ev_with("hour >= 22 || hour < 1 ? 3 : 1", &i), 3.0);
        assert_eq!(ev_with("weekday == 2", &i), 1.0);
        assert_eq!(ev_with("0.2 + u * 0.5", &i), 0.2 + 0.25 * 0.5);
    }

    #[test]
    fn comparisons_logic_and_conditionals() {
        let i = CostInputs {
            lots: 2.0,
            price: 1.1,
            ..CostInputs::default()
        };
        assert_eq!(ev_with("lots > 1", &i), 1.0);
        assert_eq!(ev_with("lots < 1", &i), 0.0);
        assert_eq!(ev_with("lots <= 2", &i), 1.0);
        assert_eq!(ev_with("lots >= 2.5", &i), 0.0);
        assert_eq!(ev_with("lots == 2", &i), 1.0);
        assert_eq!(ev_with("lots != 2", &i), 0.0);
        assert_eq!(ev_with("lots > 1 && price < 1.2", &i), 1.0);
        assert_eq!(ev_with("lots > 3 || price > 1.2", &i), 0.0);
        assert_eq!(ev_with("!(lots > 1)", &i), 0.0);
        assert_eq!(ev_with("!0", &i), 1.0);
        assert_eq!(ev_with("3 && 4", &i), 1.0);
        assert_eq!(ev_with("if(lots > 1, 10, 5)", &i), 10.0);
        assert_eq!(ev_with("if(lots > 5, 10, 5)", &i), 5.0);
        // right-associative nesting
        let tiers = "lots >= 10 ? 3 : lots >= 1 ? 5 : 7";
        assert_eq!(ev_with(tiers, &i), 5.0);
        assert_eq!(ev_with(tiers, &CostInputs { lots: 0.5, ..i }), 7.0);
        assert_eq!(ev_with(tiers, &CostInputs { lots: 12.0, ..i }), 3.0);
        // a conditional inside an operand
        assert_eq!(ev_with("1 + (lots > 1 ? 2 : 3) * 2", &i), 5.0);
        // short-circuit: the untaken side is not evaluated into the result
        assert_eq!(ev_with("lots > 5 && 1 / 0 > 0", &i), 0.0);
        assert_eq!(ev_with("lots > 1 || 0 / 0", &i), 1.0);
        assert_eq!(ev_with("if(lots > 1, 1, 0 / 0)", &i), 1.0);
    }

    #[test]
    fn functions() {
        assert_eq!(ev("min(3, 1, 2)"), 1.0);
        assert_eq!(ev("max(3, 1, 2, 5)"), 5.0);
        assert_eq!(ev("abs(-3.5)"), 3.5);
        assert_eq!(ev("floor(2.7) + ceil(2.1)"), 5.0);
        assert_eq!(ev("round(2.5) + round(-2.5)"), 0.0);
        assert_eq!(ev("sqrt(16)"), 4.0);
        assert_eq!(ev("min(max(1, 2), 1.5)"), 1.5);
    }

    #[test]
    fn folding_and_uses() {
        let f = Formula::parse("2 * 3 + max(1, 4)").unwrap();
        assert_eq!(f.code.len(), 1);
        assert_eq!(f.eval(&[0.0; NVARS]), 10.0);
        let f = Formula::parse("1 > 0 ? lots : price").unwrap();
        assert_eq!(&f.code[..], &[Op::Var(0)]);
        let f = Formula::parse("atr * 0.1 + spread").unwrap();
        assert!(f.uses("atr") && f.uses("spread") && !f.uses("lots") && !f.uses("nope"));
        assert_eq!(f.source(), "atr * 0.1 + spread");
        assert_eq!(f, Formula::parse("atr * 0.1 + spread").unwrap());
        assert_eq!(format!("{f:?}"), "Formula(\"atr * 0.1 + spread\")");
    }

    #[test]
    fn deep_but_legal_nesting_fits_the_stack() {
        // Right-nested sums need one slot per level.
        let src = (0..20).map(|_| "lots + (").collect::<String>() + "1" + &")".repeat(20);
        let i = CostInputs {
            lots: 1.0,
            ..CostInputs::default()
        };
        assert_eq!(ev_with(&src, &i), 21.0);
        let too_deep = (0..40).map(|_| "lots + (").collect::<String>() + "1" + &")".repeat(40);
        assert!(err(&too_deep).message.contains("nests too deeply"));
        let parens = "(".repeat(100) + "1" + &")".repeat(100);
        let e = err(&parens);
        assert!(e.message.contains("deeper than 64"), "{e}");
        assert_eq!(e.column, 65);
    }

    #[test]
    fn syntax_errors_have_columns_and_carets() {
        let e = err("lots *");
        assert_eq!(e.column, 7);
        assert!(
            e.message.contains("unexpected the end of the formula"),
            "{e}"
        );
        let e = err("lots * (price + )");
        assert_eq!(e.column, 17);
        assert!(e.message.contains("unexpected ')'"), "{e}");
        assert_eq!(e.excerpt(), "  lots * (price + )\n                  ^");
        assert_eq!(
            e.to_string(),
            "unexpected ')', expected a number, a variable, a function or '(' at column 17\n  lots * (price + )\n                  ^"
        );
        let e = err("2 * foo + 1");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("unknown variable 'foo'"), "{e}");
        assert!(e.message.contains("lots, price, notional"), "{e}");
        let e = err("bar(1)");
        assert_eq!(e.column, 1);
        assert!(e
            .message
            .contains("unknown function 'bar'; known functions: if, min, max"));
        let e = err("1 + min(1)");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("at least 2 arguments, got 1"), "{e}");
        assert!(err("if(1, 2)")
            .message
            .contains("if() takes 3 arguments, got 2"));
        assert!(err("abs()")
            .message
            .contains("abs() takes 1 argument, got 0"));
        let e = err("1 < lots < 3");
        assert_eq!(e.column, 10);
        assert!(e.message.contains("cannot be chained"));
        let e = err("lots = 2");
        assert_eq!((e.column, e.message.contains("'=='")), (6, true));
        assert_eq!(err("lots & 1").column, 6);
        assert_eq!(err("lots | 1").column, 6);
        let e = err("1.2.3");
        assert_eq!(e.column, 4);
        let e = err("2 * 1e");
        assert_eq!(
            (e.column, e.message.as_str()),
            (6, "exponent without digits")
        );
        assert!(err("1__0").message.contains("invalid number"));
        assert!(err("10_").message.contains("invalid number"));
        assert!(err("12abc").message.contains("after a number"));
        let e = err("lots price");
        assert_eq!(e.column, 6);
        assert!(
            e.message
                .contains("unexpected 'price', expected an operator"),
            "{e}"
        );
        let e = err("");
        assert_eq!(e.column, 1);
        let e = err("   ");
        assert_eq!(e.column, 4);
        let e = err("price $ 2");
        assert_eq!(e.column, 7);
        assert!(e.message.contains("'$'"));
        // columns count characters, not bytes
        let e = err("lots + é");
        assert_eq!(e.column, 8);
        let e = err("(lots + 1");
        assert!(e.message.contains("expected ')'"), "{e}");
        assert_eq!(e.column, 10);
        let e = err("lots > 1 ? 2");
        assert!(e.message.contains("':' of the conditional"), "{e}");
        let e = err("min(1, 2");
        assert!(e.message.contains("',' or ')'"), "{e}");
        let e = err("max");
        assert!(e.message.contains("needs arguments"), "{e}");
        let e = err("1 + , 2");
        assert!(e.message.contains("unexpected ','"), "{e}");
        assert_eq!(e.column, 5);
        assert!(err(&"1+".repeat(3000)).message.contains("at most 4096"));
        assert!(err("1e999").message.contains("invalid number"));
    }

    #[test]
    fn evaluation_is_deterministic_and_allocation_free_in_shape() {
        let f = Formula::parse("max(7, notional * 30 / 1e6) * (hour >= 21 ? 1.5 : 1)").unwrap();
        let mut i = CostInputs {
            notional: 1_000_000.0,
            ..CostInputs::default()
        };
        i.hour = 22.0;
        let a = f.eval_inputs(&i);
        for _ in 0..1000 {
            assert_eq!(f.eval_inputs(&i).to_bits(), a.to_bits());
        }
        assert_eq!(a, 45.0);
    }
}
