//! The revocation grammar: how people say stop in their own words, by structure rather than
//! by a list of sentences (docs/rules.md, "The classifier").
//!
//! Every word the grammar knows belongs to one or more word classes (a bit each), looked up
//! once per token in the classifier's trie. A pattern is a short sequence of classes —
//! `no (me) <send, subjunctive> (más) …` — and what follows the match inside its clause
//! decides the outcome: nothing, or a messaging object (`mensajes`, `da lista`), makes it a
//! revocation; a time or a limit (`el martes`, `after 9pm`, `a la revista`) makes it a
//! review; another object (`la factura`, `uma dúvida`) makes it nothing, or a review, as the
//! pattern says. Patterns never reach across a clause break, so `No, quiero mensajes` is
//! not `no quiero mensajes`.
//!
//! Words are listed as people write them (accents, apostrophes) and go through the
//! classifier's normalisation like any message. Where a phrase family comes from is cited in
//! docs/rules.md and beside each case in `corpus/`.

use super::normalize::Tokens;

/// Languages as bits, so a word shared by several (`para`, `me`) carries all of them.
pub(super) mod lang {
    pub const EN: u8 = 1;
    pub const ES: u8 = 2;
    pub const PT: u8 = 4;
    pub const FR: u8 = 8;
    pub const ES_PT: u8 = ES | PT;

    /// The tag of a language bit; `None` for none or several.
    pub fn tag(bits: u8) -> Option<&'static str> {
        match bits {
            EN => Some("en"),
            ES => Some("es"),
            PT => Some("pt"),
            FR => Some("fr"),
            _ => None,
        }
    }

    pub fn bit(tag: &str) -> u8 {
        match tag {
            "en" => EN,
            "es" => ES,
            "pt" => PT,
            "fr" => FR,
            _ => 0,
        }
    }
}

/// Word classes. A word may be in several (`de` is `DE`, `FROM` and `PREP`).
pub(super) mod class {
    /// `no`, `não`, `nunca`, `never`: negation before a verb.
    pub const NEG: u64 = 1 << 0;
    /// English `don't` (`dont` once apostrophes are gone); `not` after `do` becomes one.
    pub const DONT: u64 = 1 << 1;
    /// Contact in general: `contacto`, `comunicaciones`, `contato`, `communications`.
    pub const CONTACT: u64 = 1 << 2;
    /// `con`, `com`, `with`: `para com essas mensagens`, `enough with the texts`.
    pub const WITH: u64 = 1 << 3;
    /// First-person object pronouns: `me`, `nos`, `us`.
    pub const ME: u64 = 1 << 4;
    /// Imperatives of stopping (`deja/dejen/para/paren/pare/deixa/parem`), and their
    /// indicatives (`paran`, `param`), which a negation before turns into a complaint.
    pub const STOP_IMP: u64 = 1 << 5;
    /// `dejar/parar/deixar` and `dejo/deixo`: stopping, said of oneself.
    pub const STOP_INF: u64 = 1 << 6;
    /// The imperative of stopping as a word of its own: `stop`, `pare`, `alto`.
    pub const STOP_WORD: u64 = 1 << 7;
    /// `de`.
    pub const DE: u64 = 1 << 8;
    /// Writing or contacting: `escribir`, `contactar`, `escrever`, `escribiendo`.
    pub const WRITE_INF: u64 = 1 << 9;
    /// The same with a first-person clitic: `escribirme`, `contactarnos`.
    pub const WRITE_INF_ME: u64 = 1 << 10;
    /// Sending: `mandar`, `enviar`, `mandando`.
    pub const SEND_INF: u64 = 1 << 11;
    /// `mandarme`, `enviarme`, `mandarnos`.
    pub const SEND_INF_ME: u64 = 1 << 12;
    /// Calling (`llamar`, `llamarme`, `ligar`, `call`): a call is not a text, so these only
    /// ever lead to a review.
    pub const CALL_INF: u64 = 1 << 13;
    /// `recibir`, `receber`, `receive`, `get`.
    pub const RECEIVE: u64 = 1 << 14;
    /// Negative imperatives of sending: `mandes/manden/mande/envíes/envíen/mandem/enviem`.
    pub const SEND_SUBJ: u64 = 1 << 15;
    /// Negative imperatives of writing or contacting: `escribas/escriban/contacten/escrevam`.
    pub const WRITE_SUBJ: u64 = 1 << 16;
    /// Negative imperatives of calling: `llames/llamen/ligue/liguem`.
    pub const CALL_SUBJ: u64 = 1 << 17;
    /// Portuguese `manda`/`envia` after `não`: an imperative in Brazil, but a plain
    /// indicative (`no me manda`, "he doesn't send me") in Spanish, hence only after `não`.
    pub const PT_SEND_INDIC: u64 = 1 << 18;
    /// `não`/`nao`.
    pub const NAO: u64 = 1 << 19;
    /// `vuelvas/vuelvan/sigas/sigan`, in `no me vuelvan a escribir`, `no me sigan mandando`.
    pub const AGAIN_SUBJ: u64 = 1 << 20;
    /// Voice and calls: `voz`, `llamadas`, `ligação`, `calls` — not texts.
    pub const VOICE: u64 = 1 << 21;
    /// `más`, `mais`, `more`, `anymore`.
    pub const MORE: u64 = 1 << 22;
    /// `nada`, `nothing`.
    pub const NOTHING: u64 = 1 << 23;
    /// Messaging nouns: `mensajes`, `mensagens`, `sms`, `texts`, `promociones`, `spam`.
    pub const MSG: u64 = 1 << 24;
    /// Articles, demonstratives, possessives other than the first person's, quantifiers.
    pub const DET: u64 = 1 << 25;
    /// First-person possessives: `mi`, `meu`, `minha`, `my`.
    pub const MY: u64 = 1 << 26;
    /// Lists the sender keeps: `lista`, `base`, `contactos`, `cadastro`, `list`.
    pub const LIST: u64 = 1 << 27;
    /// A person's number or data: `número`, `teléfono`, `contato`, `datos`, `number`.
    pub const NUMBER: u64 = 1 << 28;
    /// Removal with the person as attached object: `sácame`, `bórrenme`, `elimíname`.
    pub const REMOVE_ME: u64 = 1 << 29;
    /// Removal verbs: `borren`, `quita`, `tira`, `remova`, `exclua`, `delete`, `lose`.
    pub const REMOVE: u64 = 1 << 30;
    /// `de`, `del`, `da`, `do`, `from`, `off`, `of`: what a list is left from.
    pub const FROM: u64 = 1 << 31;
    /// Wanting: `quiero`, `deseo`, `quero`, `desejo`, `want`.
    pub const WANT: u64 = 1 << 32;
    /// `si`, `if`: a condition (`si no lo arreglan me doy de baja`) is not yet a request.
    pub const COND: u64 = 1 << 33;
    /// `que`.
    pub const QUE: u64 = 1 << 34;
    /// `I`, `yo`, `eu`: the person speaking, in `I opt out`.
    pub const I: u64 = 1 << 35;
    /// `contactado`, `contatada`, `contacted`, `texted`.
    pub const CONTACTED: u64 = 1 << 36;
    /// Reflexive giving, in `darme/dame/denme de baja`.
    pub const GIVE_ME: u64 = 1 << 37;
    /// `dar`, `doy`, `damos`, `den`: in `me doy de baja`, `me pueden dar de baja`.
    pub const GIVE: u64 = 1 << 38;
    /// `puedes/pueden/quiero/quisiera…` between `me` and `dar de baja`.
    pub const CAN: u64 = 1 << 39;
    /// `baja`.
    pub const BAJA: u64 = 1 << 40;
    /// Unsubscribing oneself, clitic attached: `desuscribirme`, `desuscríbanme`.
    pub const UNSUB_ME: u64 = 1 << 41;
    /// Unsubscribing: `desuscribo`, `descadastrar`, `descadastra`, `unsubscribe`, `optout`.
    pub const UNSUB: u64 = 1 << 42;
    /// Cancelling, Spanish and Portuguese: `cancelar`, `cancela`, `cancelen`.
    pub const CANCEL: u64 = 1 << 43;
    /// `suscripción`, `inscrição`, `assinatura`.
    pub const SUBSCRIPTION: u64 = 1 << 44;
    /// Leaving: `salir`, `sair`, `saio`.
    pub const LEAVE: u64 = 1 << 45;
    /// `take`, `off`, `opt`, `out`.
    pub const TAKE: u64 = 1 << 46;
    pub const OFF: u64 = 1 << 47;
    pub const OPT: u64 = 1 << 48;
    pub const OUT: u64 = 1 << 49;
    /// Stopping a thing: `stop`, `quit`, `end`, `cancel`, `pare`, `cancelar`, `detener`.
    pub const HALT: u64 = 1 << 50;
    /// English writing verbs: `text`, `message`, `contact`, `write`, `texting`, `spamming`.
    pub const TEXT_VERB: u64 = 1 << 51;
    /// `not`: a negation only after `do`/`does` (`do not want`), which is then `DONT`.
    pub const NOT: u64 = 1 << 52;
    /// Prepositions that open a complement: `a`, `en`, `de`, `to`, `from`, `on`, `da`, `na`.
    pub const PREP: u64 = 1 << 53;
    /// Words that limit what comes before: `to`, `until`, `before`, `hasta`, `antes`.
    pub const LIMIT: u64 = 1 << 54;
    /// Days, parts of the day, dates: a time makes a request partial.
    pub const TIME: u64 = 1 << 55;
    /// Words read past in a tail and between words of a pattern: `más`, `anymore`,
    /// `again`, `ya`, `please`, `gracias`, `longer`, `ser`, `be`.
    pub const SKIP: u64 = 1 << 56;
    /// The sender: `ustedes`, `vocês`, `you`.
    pub const SENDER: u64 = 1 << 57;
    /// Pronouns standing for what was sent: `esto`, `isso`, `this`, `these`, `it`.
    pub const PRONOUN: u64 = 1 << 58;
    /// `basta`, `chega`, `enough`.
    pub const ENOUGH: u64 = 1 << 59;
    /// `do`, `does`, `did`.
    pub const DO: u64 = 1 << 60;
    /// `never`, in `never text me again`.
    pub const NEVER: u64 = 1 << 61;
    /// `again`.
    pub const AGAIN: u64 = 1 << 62;
    /// Prepositions of means: `por`, `pelo`, `by`, `via`. A channel named (`no me escriban
    /// por whatsapp, mejor sms`) narrows a request rather than completing it.
    pub const CHANNEL: u64 = 1 << 63;
}

use class::*;
use lang::{EN, ES, ES_PT, PT};

/// The grammar's words: `(words separated by spaces, classes, languages)`.
pub(super) const LEXICON: &[(&str, u64, u8)] = &[
    ("no", NEG, ES | EN),
    // Portuguese `no` is "in the": it tells no language.
    ("no", 0, PT),
    ("não nao", NEG | NAO, PT),
    ("not", NOT, EN),
    ("never", NEG | NEVER | SKIP, EN),
    ("nunca jamás", NEG | SKIP, ES_PT),
    ("jamais", NEG | SKIP, PT),
    ("don't dont", DONT, EN),
    ("do does did", DO, EN),
    ("longer", SKIP, EN),
    ("me nos", ME, ES_PT),
    ("me us", ME, EN),
    ("deja dejen deje dejes dejad dejan", STOP_IMP, ES),
    ("para pare paren parad paran", STOP_IMP, ES),
    ("para pare", STOP_IMP, PT),
    ("parem param deixa deixe deixem deixam", STOP_IMP, PT),
    ("dejar dejo", STOP_INF, ES),
    ("parar", STOP_INF, ES_PT),
    ("deixar deixo", STOP_INF, PT),
    ("stop", STOP_WORD, EN),
    ("pare paren alto", STOP_WORD, ES),
    ("pare parem", STOP_WORD, PT),
    ("de", DE | FROM | PREP, ES_PT),
    (
        "escribir contactar textear mensajear escribiendo contactando",
        WRITE_INF,
        ES,
    ),
    ("escrever contatar escrevendo", WRITE_INF, PT),
    (
        "escribirme contactarme textearme escribirnos contactarnos",
        WRITE_INF_ME,
        ES,
    ),
    ("mandar enviar mandando enviando", SEND_INF, ES_PT),
    ("mandarme enviarme mandarnos enviarnos", SEND_INF_ME, ES),
    ("llamar llamarme llamarnos llamando", CALL_INF, ES),
    ("ligar ligando", CALL_INF, PT),
    ("call calling", CALL_INF, EN),
    ("recibir", RECEIVE, ES),
    ("receber", RECEIVE, PT),
    ("receive get getting receiving", RECEIVE, EN),
    ("mandes manden mande envíes envíen envíe", SEND_SUBJ, ES),
    ("mande mandem envie enviem", SEND_SUBJ, PT),
    (
        "escribas escriban escriba contactes contacten contacte textees texteen",
        WRITE_SUBJ,
        ES,
    ),
    ("escreva escrevam contate contatem", WRITE_SUBJ, PT),
    ("llames llamen llame", CALL_SUBJ, ES),
    ("ligue liguem", CALL_SUBJ, PT),
    ("manda envia", PT_SEND_INDIC, PT),
    ("vuelvas vuelvan vuelva sigas sigan siga", AGAIN_SUBJ, ES),
    ("a", DET | PREP, ES_PT),
    ("más", MORE | SKIP, ES),
    ("mais", MORE | SKIP, PT),
    ("more anymore", MORE | SKIP, EN),
    ("nada", NOTHING, ES_PT),
    ("nothing", NOTHING, EN),
    (
        "mensaje mensajes mensajitos msj msjs textos texto sms whatsapp whatsapps wsp \
         promociones promoción promo promos publicidad ofertas notificaciones alertas avisos spam",
        MSG,
        ES,
    ),
    (
        "mensagem mensagens msg msgs sms torpedos promoções promoção publicidade propaganda \
         propagandas ofertas notificações alertas avisos zap spam promo promos",
        MSG,
        PT,
    ),
    (
        "text texts txt txts message messages msg msgs sms alerts notifications promos \
         promotions ads offers reminders spam",
        MSG,
        EN,
    ),
    ("contacto comunicaciones comunicación", CONTACT, ES),
    ("contato comunicações comunicação", CONTACT, PT),
    ("contact communications", CONTACT, EN),
    ("con", WITH, ES),
    ("com", WITH, PT),
    ("with", WITH | PREP, EN),
    (
        "la las el los un una unos unas tu tus su sus esta estas este estos esa esas ese esos \
         ningún ninguna vuestra vuestro todos todas",
        DET,
        ES,
    ),
    (
        "as o os um uma essa essas esse esses estas estes sua suas seu seus nenhuma nenhum \
         todas todos",
        DET,
        PT,
    ),
    ("the these this those your ur any all such an a", DET, EN),
    ("mi mis", MY, ES),
    ("meu meus minha minhas", MY, PT),
    ("my", MY, EN),
    ("lista listas listado base bd contactos difusión", LIST, ES),
    ("lista listas base contatos cadastro cadastros", LIST, PT),
    ("list lists database", LIST, EN),
    ("número teléfono celular contacto dato datos", NUMBER, ES),
    ("número telefone celular contato dados", NUMBER, PT),
    ("number phone cell", NUMBER, EN),
    (
        "sácame sáquenme sáqueme sacadme sacarme quítame quítenme quíteme quitadme quitarme \
         bórrame bórrenme bórreme borradme borrarme elimíname elimínenme elimíneme eliminadme \
         eliminarme exclúyeme exclúyanme bájame bájenme bájeme retírenme retíreme",
        REMOVE_ME,
        ES,
    ),
    (
        "borren borre borra borrar eliminen elimine elimina eliminar saquen saque saca sacar \
         quiten quite quita quitar",
        REMOVE,
        ES,
    ),
    (
        "tira tire tirem tirar remove remova removam remover retira retire retirem retirar \
         exclui exclua excluam excluir apaga apague apaguem apagar deleta",
        REMOVE,
        PT,
    ),
    ("remove delete erase lose", REMOVE, EN),
    ("del", FROM | PREP, ES),
    ("da do das dos dessa desta deste desse", FROM | PREP, PT),
    ("from off of", FROM | PREP, EN),
    ("quiero queremos deseo deseamos quisiera", WANT, ES),
    ("quero queremos desejo", WANT, PT),
    ("want wanna", WANT, EN),
    ("to", PREP | LIMIT, EN),
    ("i", I, EN),
    ("yo", I, ES),
    ("eu", I, PT),
    ("si", COND, ES),
    ("if", COND, EN),
    ("que", QUE, ES_PT),
    ("ser", SKIP, ES_PT),
    ("be", SKIP, EN),
    (
        "contactado contactada contactados contactadas",
        CONTACTED,
        ES,
    ),
    ("contatado contatada contatados", CONTACTED, PT),
    ("contacted texted messaged", CONTACTED, EN),
    (
        "darme dame denme deme darnos dennos danos darse",
        GIVE_ME,
        ES,
    ),
    ("dar doy damos den", GIVE, ES),
    (
        "puedes puede pueden podrías podría podrían quiero queremos quisiera deseo",
        CAN,
        ES,
    ),
    ("baja", BAJA, ES),
    (
        "desuscribirme desuscríbeme desuscríbanme desuscríbame desinscribirme desinscríbanme \
         desinscríbeme desuscribirnos",
        UNSUB_ME,
        ES,
    ),
    (
        "desuscribo desuscribimos desuscribir desinscribir desinscribo",
        UNSUB,
        ES,
    ),
    (
        "descadastrar descadastra descadastre descadastrem descadastro desinscrever",
        UNSUB,
        PT,
    ),
    ("unsubscribe unsub optout", UNSUB, EN),
    ("cancelar", CANCEL | HALT, ES_PT),
    ("cancela cancele cancelen cancelo", CANCEL | HALT, ES),
    ("cancela cancele cancelem", CANCEL | HALT, PT),
    (
        "suscripción subscripción suscripciones inscripción",
        SUBSCRIPTION,
        ES,
    ),
    (
        "inscrição inscrições assinatura assinaturas subscrição",
        SUBSCRIPTION,
        PT,
    ),
    ("salir salgo", LEAVE, ES),
    ("sair saio", LEAVE, PT),
    ("take", TAKE, EN),
    ("off", OFF | FROM | PREP, EN),
    ("opt", OPT, EN),
    ("out", OUT, EN),
    ("stop quit end", HALT, EN),
    ("paren pare detener detengan detenga", HALT, ES),
    ("parem pare", HALT, PT),
    (
        "text txt message msg contact sms spam write texting messaging msging contacting \
         writing spamming",
        TEXT_VERB,
        EN,
    ),
    ("en desde al", PREP, ES),
    ("em na nas desde", PREP, PT),
    ("on in for at about", PREP, EN),
    ("por", PREP | CHANNEL, ES_PT),
    ("pelo pela", PREP | CHANNEL, PT),
    ("by via through", PREP | CHANNEL, EN),
    ("hasta antes después durante entre excepto salvo", LIMIT, ES),
    ("até antes depois durante entre exceto", LIMIT, PT),
    ("until till before after during between except", LIMIT, EN),
    (
        "lunes martes miércoles jueves viernes sábado sábados domingo domingos mañana mañanas \
         tarde tardes noche noches madrugada finde semana hoy horario hora horas",
        TIME,
        ES,
    ),
    (
        "segunda terça quarta quinta sexta sábado sábados domingo domingos manhã tarde noite \
         noites madrugada semana hoje amanhã horário hora horas",
        TIME,
        PT,
    ),
    (
        "monday tuesday wednesday thursday friday saturday sunday weekend weekends morning \
         mornings night nights evening evenings tonight today tomorrow pm am",
        TIME,
        EN,
    ),
    ("voz audio audios llamada llamadas", VOICE, ES),
    (
        "voz áudio áudios ligação ligações chamada chamadas",
        VOICE,
        PT,
    ),
    ("voice voicemail calls", VOICE, EN),
    ("ya porfa porfavor gracias favor", SKIP, ES),
    ("já obrigado obrigada obg vlw valeu favor", SKIP, PT),
    ("again", AGAIN | SKIP, EN),
    ("ever please pls plz thanks thx ty kindly", SKIP, EN),
    ("ok okay", SKIP, ES_PT | EN),
    ("ustedes uds", SENDER, ES),
    ("vocês voces vcs", SENDER, PT),
    ("you", SENDER, EN),
    ("esto eso", PRONOUN, ES),
    ("isso isto", PRONOUN, PT),
    ("this that it these those them", PRONOUN, EN),
    ("basta", ENOUGH, ES),
    ("chega", ENOUGH, PT),
    ("enough", ENOUGH, EN),
    // Words that only tell the language.
    ("hola", 0, ES),
    ("olá oi", 0, PT),
];

/// What a match comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Outcome {
    Nothing,
    Review,
    OptOut,
}

/// The outcome for each thing that may follow a match in its clause.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail {
    /// Nothing follows but filler.
    pub end: Outcome,
    /// What was sent is named: `mensajes`, `de la lista`, `from you`, `these`.
    pub object: Outcome,
    /// A time or a limit narrows a request about messages: `el martes`, `after 9pm`,
    /// `mensajes de voz`.
    pub limited: Outcome,
    /// A complement names something else: `a la revista`, `a Juan`, `antes de segunda`
    /// after a verb that is not about messages.
    pub complement: Outcome,
    /// Anything else: `la factura`, `uma dúvida`.
    pub other: Outcome,
    /// Whether a clause break ends the message for `end` (`No me escriban, gracias`), or
    /// only the message's end does (`No me envíe nada, yo paso a recoger` is not an end).
    pub clause_ends: bool,
}

use Outcome::{Nothing, OptOut, Review};

const fn tail(
    end: Outcome,
    object: Outcome,
    limited: Outcome,
    complement: Outcome,
    other: Outcome,
) -> Tail {
    Tail {
        end,
        object,
        limited,
        complement,
        other,
        clause_ends: true,
    }
}

const fn to_message_end(mut tail: Tail) -> Tail {
    tail.clause_ends = false;
    tail
}

/// Revocation however it continues, unless a time, a limit or another complement follows.
const STRONG: Tail = tail(OptOut, OptOut, Review, Review, OptOut);
/// Revocation when it ends there or names what was sent; another object makes a review.
const NEEDS_END: Tail = tail(OptOut, OptOut, Review, Review, Review);
/// As `NEEDS_END`, but another object or complement makes it nothing (`deje de mandar más
/// muchachos`, `deje de mandar a Juan`).
const NEEDS_END_OR_OBJECT: Tail = tail(OptOut, OptOut, Review, Nothing, Nothing);
/// A review whatever follows (calls, and what is only a sign of annoyance).
const ALWAYS_REVIEW: Tail = tail(Review, Review, Review, Review, Review);
/// A review only when nothing follows.
const REVIEW_IF_ALONE: Tail = to_message_end(tail(Review, Nothing, Nothing, Nothing, Nothing));
/// A bare unsubscribe verb inside a longer text: a review alone (`how do I opt out?`), a
/// revocation with what to leave (`unsubscribe from this list`), nothing with another object
/// (`descadastrar meu cartão`).
const UNSUB_TAIL: Tail = tail(Review, OptOut, Review, Review, Nothing);
/// `no me manden más …`: the end of the message or what was sent; nothing else.
const SEND_MORE: Tail = to_message_end(tail(OptOut, OptOut, Review, Nothing, Nothing));
/// `no me mandes …` with no `más`: alone only a review (`No me envíe`), with what was sent a
/// revocation, with anything else nothing (`no me mandes la factura`).
const SEND_WHAT: Tail = to_message_end(tail(Review, OptOut, Review, Nothing, Nothing));

#[derive(Debug, Clone, Copy)]
pub(super) enum Elem {
    One(u64),
    Opt(u64),
    /// Up to this many tokens of these classes.
    Upto(u64, u8),
}

use Elem::{One, Opt, Upto};

#[derive(Debug, Clone, Copy)]
pub(super) struct Pattern {
    /// One of the names in `rule`.
    pub rule: &'static str,
    pub elems: &'static [Elem],
    pub tail: Tail,
    /// The language when the words are shared by several (`parar de me mandar`).
    pub language: u8,
    /// The words themselves are about messages (`escribirme`, `de la lista`): a time after
    /// them limits a request about messages rather than naming something else.
    pub names_object: bool,
    /// A negation just before turns it into a complaint (`no paran de escribirme`,
    /// `não para de me mandar mensagem`): a review at most.
    pub complaint_if_negated: bool,
    /// Nothing but filler may stand before it in its clause: `I opt out`, not `how do I
    /// opt out?`.
    pub opens_clause: bool,
    /// It must also end the message (`Not interested, please stop.`, `spam, basta`).
    pub last_clause: bool,
}

use super::rule::{NEGATED_WANTING, REMOVE_FROM_LIST, STOP_IMPERATIVE, UNSUBSCRIBE_PHRASE};

const fn p(rule: &'static str, elems: &'static [Elem], tail: Tail, language: u8) -> Pattern {
    Pattern {
        rule,
        elems,
        tail,
        language,
        names_object: true,
        complaint_if_negated: false,
        opens_clause: false,
        last_clause: false,
    }
}

/// About sending or removing in general: what follows must say it is about messages.
const fn about_anything(mut pattern: Pattern) -> Pattern {
    pattern.names_object = false;
    pattern
}

const fn complaint(mut pattern: Pattern) -> Pattern {
    pattern.complaint_if_negated = true;
    pattern
}

const fn opens_clause(mut pattern: Pattern) -> Pattern {
    pattern.opens_clause = true;
    pattern
}

const fn last_clause(mut pattern: Pattern) -> Pattern {
    pattern.opens_clause = true;
    pattern.last_clause = true;
    pattern
}

const DETS: u64 = DET | MY;
const WRITING: u64 = WRITE_INF | WRITE_INF_ME;
const SENDING: u64 = SEND_INF | SEND_INF_ME;

/// The patterns. Each starts with `One`, so the first word picks the candidates.
pub(super) const PATTERNS: &[Pattern] = &[
    // --- stop_imperative -------------------------------------------------------------------
    // dejen de escribirme, paren de contactarme
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(WRITE_INF_ME)],
        STRONG,
        ES,
    )),
    // pare de me escrever, parem de escrever-me
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(ME), One(WRITE_INF)],
        STRONG,
        PT,
    )),
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(WRITE_INF), One(ME)],
        STRONG,
        PT,
    )),
    // dejen de mandarme (mensajes), pare de me mandar: another object (`fotos`) is a review.
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(SEND_INF_ME)],
        NEEDS_END,
        ES,
    )),
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(ME), One(SEND_INF)],
        NEEDS_END,
        PT,
    )),
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(SEND_INF), One(ME)],
        NEEDS_END,
        PT,
    )),
    // dejen de escribir: with no `me` writing is still about messages…
    complaint(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(WRITE_INF)],
        NEEDS_END,
        ES,
    )),
    // …but sending is not until what is sent is named: `deja de mandar mensajes`, not
    // `deje de mandar a Juan` or `deja de enviar la muestra`.
    complaint(about_anything(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), One(SEND_INF)],
        NEEDS_END_OR_OBJECT,
        ES,
    ))),
    // dejar de recibir (mensajes), quero parar de receber, ¿cómo dejo de recibir esto?
    about_anything(p(
        STOP_IMPERATIVE,
        &[One(STOP_INF), One(DE), One(RECEIVE), Opt(MORE)],
        NEEDS_END_OR_OBJECT,
        ES,
    )),
    // Calls are not texts: deje de llamarme, pare de me ligar.
    p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(DE), Opt(ME), One(CALL_INF)],
        ALWAYS_REVIEW,
        ES,
    ),
    // no me escriban (más), no me contactes, não me escrevam
    p(
        STOP_IMPERATIVE,
        &[One(NEG), One(ME), One(WRITE_SUBJ)],
        NEEDS_END,
        ES,
    ),
    p(
        STOP_IMPERATIVE,
        &[One(NEG), One(WRITE_SUBJ), One(MORE)],
        NEEDS_END,
        ES,
    ),
    // no me manden más (mensajes), no me envíes nada, não me mande(m) mais
    about_anything(p(
        STOP_IMPERATIVE,
        &[
            One(NEG),
            Opt(ME),
            One(SEND_SUBJ),
            One(MORE | NOTHING | NEG),
            Upto(MORE | NOTHING, 2),
        ],
        SEND_MORE,
        ES,
    )),
    about_anything(p(
        STOP_IMPERATIVE,
        &[
            One(NAO),
            Opt(ME),
            One(PT_SEND_INDIC),
            One(MORE | NOTHING),
            Upto(MORE | NOTHING, 2),
        ],
        SEND_MORE,
        PT,
    )),
    // no me mandes mensajes; `no me envíe` alone is a review, `no me mande la factura` nothing.
    about_anything(p(
        STOP_IMPERATIVE,
        &[One(NEG), Opt(ME), One(SEND_SUBJ)],
        SEND_WHAT,
        ES,
    )),
    about_anything(p(
        STOP_IMPERATIVE,
        &[One(NAO), Opt(ME), One(PT_SEND_INDIC)],
        SEND_WHAT,
        PT,
    )),
    // no me vuelvan a escribir, no me sigan mandando mensajes
    p(
        STOP_IMPERATIVE,
        &[
            One(NEG),
            One(ME),
            One(AGAIN_SUBJ),
            Opt(PREP),
            One(WRITING | SENDING),
        ],
        NEEDS_END,
        ES,
    ),
    p(
        STOP_IMPERATIVE,
        &[One(NEG), Opt(ME), One(CALL_SUBJ)],
        ALWAYS_REVIEW,
        ES,
    ),
    // don't text me, do not contact me, don't write to me, never text me again
    p(
        STOP_IMPERATIVE,
        &[One(DONT), One(TEXT_VERB), Opt(PREP), One(ME)],
        STRONG,
        EN,
    ),
    p(
        STOP_IMPERATIVE,
        &[One(NEVER), One(TEXT_VERB), Opt(PREP), One(ME), One(AGAIN)],
        STRONG,
        EN,
    ),
    // don't text (anymore); `don't text while driving` is nothing.
    p(
        STOP_IMPERATIVE,
        &[One(DONT), One(TEXT_VERB)],
        NEEDS_END_OR_OBJECT,
        EN,
    ),
    p(
        STOP_IMPERATIVE,
        &[One(DONT), One(CALL_INF), One(ME)],
        ALWAYS_REVIEW,
        EN,
    ),
    // stop msg me, stop spamming me, stop writing to me
    p(
        STOP_IMPERATIVE,
        &[One(HALT), One(TEXT_VERB), Opt(PREP), One(ME)],
        STRONG,
        EN,
    ),
    // stop the texts, stop with the messages, cancel all alerts, pare as mensagens
    p(
        STOP_IMPERATIVE,
        &[One(HALT), Opt(WITH), Upto(DETS, 2), One(MSG)],
        NEEDS_END,
        EN,
    ),
    // para com essas mensagens (`para` alone before a noun is a preposition: `para los
    // mensajes usa este número`)
    p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(WITH), Upto(DETS, 2), One(MSG)],
        NEEDS_END,
        PT,
    ),
    // stop it, please stop this: at the head of its clause (`we have to stop it` is not a
    // request), and standing alone (`stop this bill` is not about messages).
    opens_clause(p(
        STOP_IMPERATIVE,
        &[One(STOP_WORD), One(PRONOUN)],
        NEEDS_END_OR_OBJECT,
        EN,
    )),
    // …, stop / not interested. stop: the word alone as the message's last clause.
    last_clause(p(
        STOP_IMPERATIVE,
        &[One(STOP_WORD)],
        to_message_end(STRONG),
        EN,
    )),
    // basta de mensajes, basta ya de mensajes, chega de spam, enough with the texts
    p(
        STOP_IMPERATIVE,
        &[
            One(ENOUGH),
            Upto(SKIP, 1),
            Opt(DE | WITH),
            Upto(DETS, 2),
            One(MSG),
        ],
        NEEDS_END,
        ES,
    ),
    // basta de llamadas, para con las llamadas: calls, a review.
    p(
        STOP_IMPERATIVE,
        &[
            One(ENOUGH | HALT | STOP_IMP),
            Upto(SKIP, 1),
            Opt(DE | WITH),
            Upto(DETS, 2),
            One(VOICE),
        ],
        ALWAYS_REVIEW,
        ES,
    ),
    // basta / chega / enough, or para ya, as the last clause: annoyance, not yet a request.
    last_clause(p(STOP_IMPERATIVE, &[One(ENOUGH)], REVIEW_IF_ALONE, ES)),
    last_clause(p(
        STOP_IMPERATIVE,
        &[One(STOP_IMP), One(SKIP)],
        REVIEW_IF_ALONE,
        ES,
    )),
    // no more / no más (texts): `no more than 500 pcs` is nothing.
    about_anything(p(STOP_IMPERATIVE, &[One(NEG), One(MORE)], SEND_MORE, EN)),
    // --- remove_from_list ------------------------------------------------------------------
    // sácame de la lista, bórrenme de su base de datos
    complaint(p(
        REMOVE_FROM_LIST,
        &[One(REMOVE_ME), One(FROM), Upto(DETS, 2), One(LIST)],
        STRONG,
        ES,
    )),
    // bórrame / sáquenme, alone; `bórrame la cita` and `sácame de aquí` are nothing.
    complaint(about_anything(p(
        REMOVE_FROM_LIST,
        &[One(REMOVE_ME)],
        tail(OptOut, Review, Nothing, Nothing, Nothing),
        ES,
    ))),
    // me tira da lista, me remova do cadastro, remova-me da lista
    complaint(p(
        REMOVE_FROM_LIST,
        &[One(ME), One(REMOVE), One(FROM), Upto(DETS, 2), One(LIST)],
        STRONG,
        PT,
    )),
    complaint(p(
        REMOVE_FROM_LIST,
        &[One(REMOVE), One(ME), One(FROM), Upto(DETS, 2), One(LIST)],
        STRONG,
        PT,
    )),
    // me remove, alone; `me tira uma dúvida` is nothing.
    complaint(about_anything(p(
        REMOVE_FROM_LIST,
        &[One(ME), One(REMOVE)],
        to_message_end(tail(OptOut, Review, Nothing, Nothing, Nothing)),
        PT,
    ))),
    // borren mi número, remova meu contato da lista, delete my number, remove this number
    p(
        REMOVE_FROM_LIST,
        &[One(REMOVE), One(DETS), One(NUMBER)],
        to_message_end(tail(OptOut, OptOut, Review, Review, Review)),
        ES,
    ),
    // quiero salir de la lista, quero sair da lista
    p(
        REMOVE_FROM_LIST,
        &[One(LEAVE), One(FROM), Upto(DETS, 2), One(LIST)],
        STRONG,
        ES,
    ),
    // take me off, take my number off
    p(
        REMOVE_FROM_LIST,
        &[One(TAKE), One(ME), One(OFF)],
        NEEDS_END,
        EN,
    ),
    p(
        REMOVE_FROM_LIST,
        &[One(TAKE), One(DETS), One(NUMBER), One(OFF)],
        NEEDS_END,
        EN,
    ),
    // --- negated_wanting -------------------------------------------------------------------
    // no quiero (recibir) (más) mensajes, não quero mais mensagens, I don't want these texts
    p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            Upto(SKIP, 1),
            One(WANT),
            Opt(MORE),
            Opt(LIMIT),
            Opt(RECEIVE),
            Upto(DETS | MORE | NOTHING, 3),
            One(MSG | CONTACT),
        ],
        STRONG,
        ES,
    ),
    // no deseo recibir más, não quero mais receber (nada), I don't want to receive these
    about_anything(p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            Upto(SKIP, 1),
            One(WANT),
            Opt(MORE),
            Opt(LIMIT),
            One(RECEIVE),
            Upto(MORE | NOTHING, 2),
        ],
        tail(OptOut, OptOut, Review, Nothing, Nothing),
        ES,
    )),
    // no quiero llamadas, não quero mais ligações: calls, a review.
    p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            Upto(SKIP, 1),
            One(WANT),
            Opt(MORE),
            Opt(LIMIT),
            Opt(RECEIVE),
            Upto(DETS | MORE, 3),
            One(VOICE),
        ],
        ALWAYS_REVIEW,
        ES,
    ),
    // no quiero que me contacten, não quero que me mandem mensagens
    p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            One(WANT),
            One(QUE),
            Opt(SENDER),
            Opt(ME),
            One(SEND_SUBJ | WRITE_SUBJ),
        ],
        NEEDS_END,
        ES,
    ),
    p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            One(WANT),
            One(QUE),
            Opt(SENDER),
            Opt(ME),
            One(CALL_SUBJ),
        ],
        ALWAYS_REVIEW,
        ES,
    ),
    // no deseo ser contactado, I don't want to be contacted
    p(
        NEGATED_WANTING,
        &[
            One(NEG | DONT),
            One(WANT),
            Opt(LIMIT),
            Upto(SKIP, 1),
            One(CONTACTED),
        ],
        STRONG,
        ES,
    ),
    // não quero mais / no quiero más, alone: not clear what is refused.
    last_clause(p(
        NEGATED_WANTING,
        &[One(NEG), One(WANT), One(MORE)],
        REVIEW_IF_ALONE,
        PT,
    )),
    // --- unsubscribe_phrase ----------------------------------------------------------------
    // darme / dame / denme de baja (de la lista); `de la universidad` is a review.
    p(
        UNSUBSCRIBE_PHRASE,
        &[One(GIVE_ME), One(DE), One(BAJA)],
        STRONG,
        ES,
    ),
    // me doy de baja, me pueden dar de baja
    p(
        UNSUBSCRIBE_PHRASE,
        &[One(ME), Opt(CAN), One(GIVE), One(DE), One(BAJA)],
        NEEDS_END,
        ES,
    ),
    // dar de baja (mi suscripción): `dar de baja mi línea` is a review.
    p(
        UNSUBSCRIBE_PHRASE,
        &[
            One(GIVE),
            One(DE),
            One(BAJA),
            Upto(DETS, 2),
            One(SUBSCRIPTION),
        ],
        NEEDS_END,
        ES,
    ),
    last_clause(p(
        UNSUBSCRIBE_PHRASE,
        &[One(GIVE), One(DE), One(BAJA)],
        to_message_end(NEEDS_END),
        ES,
    )),
    // desuscribirme, desuscríbanme
    p(UNSUBSCRIBE_PHRASE, &[One(UNSUB_ME)], STRONG, ES),
    // me desuscribo, me descadastra, descadastre-me
    p(UNSUBSCRIBE_PHRASE, &[One(ME), One(UNSUB)], STRONG, PT),
    p(UNSUBSCRIBE_PHRASE, &[One(UNSUB), One(ME)], STRONG, PT),
    // quero descadastrar, quiero desuscribir, quero me descadastrar
    p(
        UNSUBSCRIBE_PHRASE,
        &[One(WANT), Opt(LIMIT), Opt(ME), One(UNSUB)],
        STRONG,
        PT,
    ),
    // descadastre, unsubscribe: the verb alone as the message's last clause…
    last_clause(p(
        UNSUBSCRIBE_PHRASE,
        &[One(UNSUB)],
        to_message_end(STRONG),
        PT,
    )),
    last_clause(p(
        UNSUBSCRIBE_PHRASE,
        &[One(OPT), One(OUT)],
        to_message_end(STRONG),
        EN,
    )),
    // I opt out, I unsubscribe: said of oneself, it is done.
    opens_clause(p(
        UNSUBSCRIBE_PHRASE,
        &[One(I), Upto(SKIP, 1), One(OPT), One(OUT)],
        STRONG,
        EN,
    )),
    opens_clause(p(
        UNSUBSCRIBE_PHRASE,
        &[One(I), Upto(SKIP, 1), One(UNSUB)],
        STRONG,
        EN,
    )),
    // …or with what to leave: unsubscribe from this list, opt out of texts, descadastrar da
    // lista.
    p(UNSUBSCRIBE_PHRASE, &[One(UNSUB)], UNSUB_TAIL, PT),
    p(UNSUBSCRIBE_PHRASE, &[One(OPT), One(OUT)], UNSUB_TAIL, EN),
    // cancelar (mi) suscripción, cancelar a inscrição; `a la revista` is a review.
    p(
        UNSUBSCRIBE_PHRASE,
        &[One(CANCEL), Upto(DETS, 2), One(SUBSCRIPTION)],
        NEEDS_END,
        ES,
    ),
];

/// How many patterns `Words::candidates` can hold.
pub(super) const MAX_PATTERNS: usize = 128;

/// Classes that can begin a pattern: a token with none of them is skipped at once.
pub(super) fn first_classes() -> u64 {
    PATTERNS
        .iter()
        .fold(0, |acc, pattern| match pattern.elems.first() {
            Some(One(c) | Opt(c) | Upto(c, _)) => acc | c,
            None => acc,
        })
}

/// What the grammar found in a message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub outcome: Outcome,
    pub rule: &'static str,
    pub start: usize,
    pub end: usize,
    pub language: u8,
}

/// What the classifier learnt of one token while scanning it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WordInfo {
    /// Word classes (`class`) if the token is a grammar word.
    pub classes: u64,
    /// Languages the token belongs to (`lang`), 0 if it tells none.
    pub languages: u8,
    /// Where filler starting at this token ends (0 for none): `por favor`, `thank you`.
    pub filler_end: usize,
}

/// What the grammar reads: the message's tokens and what is known of each.
pub(super) struct Words<'a> {
    pub tokens: &'a Tokens,
    pub info: &'a [WordInfo],
}

impl Words<'_> {
    fn class(&self, at: usize) -> u64 {
        self.info.get(at).map_or(0, |w| w.classes)
    }

    fn breaks_before(&self, at: usize) -> bool {
        self.tokens.list.get(at).is_some_and(|t| t.clause_break)
    }

    /// Filler, skip-words or a number: what the tail reads past.
    fn is_filler(&self, at: usize) -> bool {
        self.class(at) & SKIP != 0 || self.tokens.list.get(at).is_some_and(|t| t.number)
    }

    /// The first token from `at` that filler does not cover; with `clause_ends`, a clause
    /// break stops the search there.
    fn skip_filler(&self, mut at: usize, clause_ends: bool) -> usize {
        let n = self.tokens.len();
        while at < n {
            if clause_ends && self.breaks_before(at) {
                return at;
            }
            let filler = self.info.get(at).map_or(0, |w| w.filler_end);
            if filler > at {
                at = filler;
            } else if self.is_filler(at) {
                at += 1;
            } else {
                return at;
            }
        }
        at
    }

    /// The end of the clause that `at` is in.
    fn clause_end(&self, at: usize) -> usize {
        let n = self.tokens.len();
        (at + 1..n).find(|&i| self.breaks_before(i)).unwrap_or(n)
    }

    /// Tokens from `at` past determiners (at most three, inside the clause).
    fn after_determiners(&self, from: usize) -> usize {
        let mut at = from;
        while at < self.tokens.len()
            && at < from + 3
            && (at == from || !self.breaks_before(at))
            && self.class(at) & DETS != 0
        {
            at += 1;
        }
        at
    }

    /// The outcome of a match of `pattern` that ends before `end`.
    fn tail(&self, end: usize, pattern: &Pattern) -> Outcome {
        let tail = &pattern.tail;
        let n = self.tokens.len();
        let first = self.skip_filler(end, tail.clause_ends);
        if first >= n || (tail.clause_ends && self.breaks_before(first)) {
            return tail.end;
        }
        // A time or a limit in the next words of the clause narrows the request — when the
        // request is about messages; after a verb that is not, it names something else.
        let window = first..self.clause_end(first).min(first + 6);
        let limit = window
            .clone()
            .any(|i| self.class(i) & TIME != 0 || self.class(i) & (LIMIT | FROM) == LIMIT);
        if limit {
            let about_messages =
                pattern.names_object || window.clone().any(|i| self.class(i) & MSG != 0);
            return if about_messages {
                tail.limited
            } else {
                tail.complement
            };
        }
        let named = |at: usize| {
            at < n
                && !self.breaks_before(at)
                && self.class(at) & (MSG | LIST | NUMBER | SENDER | PRONOUN) != 0
        };
        let c = self.class(first);
        if c & CHANNEL != 0 {
            return tail.limited;
        }
        if c & MSG != 0 {
            // `mensajes de voz`: voice messages are not texts.
            let voice = self.class(first + 1) & DE != 0 && self.class(first + 2) & VOICE != 0;
            return if voice { tail.limited } else { tail.object };
        }
        let at_end = |at: usize| at >= n || self.breaks_before(at);
        if c & (PREP | WITH) != 0 {
            // `from this`, `de vocês`, `da lista`: a preposition and what was sent.
            let next = self.after_determiners(first + 1);
            return if named(next) || (next > first + 1 && at_end(next)) {
                tail.object
            } else {
                tail.complement
            };
        }
        if c & (DETS | PRONOUN) != 0 {
            // `these`, `your list`, `this number`.
            let next = self.after_determiners(first);
            if at_end(next) || self.class(next) & (MSG | NUMBER | LIST) != 0 {
                return tail.object;
            }
        }
        tail.other
    }

    /// The longest way `elems` match from `at`, inside the clause that starts at `start`.
    fn longest(&self, elems: &[Elem], at: usize, start: usize) -> Option<usize> {
        let fits = |i: usize, classes: u64| {
            i < self.tokens.len()
                && self.class(i) & classes != 0
                && (i == start || !self.breaks_before(i))
        };
        let Some((elem, rest)) = elems.split_first() else {
            return Some(at);
        };
        match *elem {
            One(c) => {
                if fits(at, c) {
                    self.longest(rest, at + 1, start)
                } else {
                    None
                }
            }
            Opt(c) => {
                let with = if fits(at, c) {
                    self.longest(rest, at + 1, start)
                } else {
                    None
                };
                with.max(self.longest(rest, at, start))
            }
            Upto(c, max) => {
                let mut count = 0usize;
                while count < usize::from(max) && fits(at + count, c) {
                    count += 1;
                }
                (0..=count)
                    .rev()
                    .filter_map(|k| self.longest(rest, at + k, start))
                    .max()
            }
        }
    }

    /// Whether only filler stands between the start of the clause and `start`.
    fn opens_clause(&self, start: usize) -> bool {
        let mut at = start;
        while at > 0 && !self.breaks_before(at) {
            at -= 1;
            let covered = (0..=at).any(|i| self.info.get(i).is_some_and(|w| w.filler_end > at));
            if !self.is_filler(at) && !covered {
                return false;
            }
        }
        true
    }

    /// The language of tokens `start..end`: what every word there may be, narrowed by the
    /// rest of the message when the words are shared (`parar de me mandar` is Spanish or
    /// Portuguese; `obrigado` after it settles it).
    pub(super) fn language(&self, start: usize, end: usize, fallback: u8) -> u8 {
        let shared = self
            .info
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(|w| w.languages)
            .filter(|&l| l != 0)
            .fold(0xFF, |acc, l| acc & l);
        if shared == 0xFF || shared == 0 {
            return fallback;
        }
        if shared.count_ones() == 1 {
            return shared;
        }
        self.vote(shared, fallback)
    }

    /// Among `candidates`, the language most of the message's words belong to alone.
    pub(super) fn vote(&self, candidates: u8, fallback: u8) -> u8 {
        let mut best = (0usize, fallback & candidates);
        if best.1 == 0 {
            best.1 = candidates & candidates.wrapping_neg();
        }
        for bit in [lang::EN, lang::ES, lang::PT, lang::FR] {
            if candidates & bit == 0 {
                continue;
            }
            let votes = self
                .info
                .iter()
                .filter(|w| w.languages != 0 && w.languages & candidates == bit)
                .count();
            if votes > best.0 {
                best = (votes, bit);
            }
        }
        best.1
    }

    /// A negation just before `start`, in the same clause.
    fn negated_before(&self, start: usize) -> bool {
        !self.breaks_before(start)
            && (start.saturating_sub(2)..start).any(|i| self.class(i) & (NEG | NAO) != 0)
    }

    /// A condition (`si`, `if`) earlier in the clause: `si no lo arreglan me doy de baja`.
    fn conditional(&self, start: usize) -> bool {
        let mut at = start;
        while at > 0 && !self.breaks_before(at) {
            at -= 1;
            if self.class(at) & COND != 0 {
                return true;
            }
        }
        false
    }

    /// The patterns whose every required word class occurs somewhere in the message, as bits
    /// of their index in `PATTERNS` (at most `MAX_PATTERNS`): most messages rule out all but
    /// a few at once.
    fn candidates(&self, present: u64) -> u128 {
        let mut candidates = 0u128;
        for (i, pattern) in PATTERNS.iter().enumerate().take(MAX_PATTERNS) {
            let possible = pattern.elems.iter().all(|elem| match *elem {
                One(c) => present & c != 0,
                Opt(_) | Upto(..) => true,
            });
            if possible {
                candidates |= 1 << i;
            }
        }
        candidates
    }

    /// The grammar's verdict: the earliest revocation, else the earliest review.
    pub(super) fn find(&self, first: u64) -> Option<Found> {
        let present = self.info.iter().fold(0, |acc, w| acc | w.classes);
        if present & first == 0 {
            return None;
        }
        let candidates = self.candidates(present);
        let mut review: Option<Found> = None;
        for start in 0..self.tokens.len() {
            let c = self.class(start);
            if c & first == 0 {
                continue;
            }
            let mut best: Option<Found> = None;
            let mut remaining = candidates;
            while remaining != 0 {
                let index = remaining.trailing_zeros() as usize;
                remaining &= remaining - 1;
                let Some(pattern) = PATTERNS.get(index) else {
                    break;
                };
                let Some(One(head)) = pattern.elems.first() else {
                    continue;
                };
                if c & head == 0 {
                    continue;
                }
                let Some(end) = self.longest(pattern.elems, start, start) else {
                    continue;
                };
                if pattern.opens_clause && !self.opens_clause(start) {
                    continue;
                }
                if pattern.last_clause && self.skip_filler(end, false) < self.tokens.len() {
                    continue;
                }
                let mut outcome = self.tail(end, pattern);
                let hedged = (pattern.complaint_if_negated && self.negated_before(start))
                    || self.conditional(start);
                if hedged {
                    outcome = outcome.min(Review);
                }
                if outcome == Nothing {
                    continue;
                }
                if best.is_none_or(|b| (outcome, end) > (b.outcome, b.end)) {
                    best = Some(Found {
                        outcome,
                        rule: pattern.rule,
                        start,
                        end,
                        language: self.language(start, end, pattern.language),
                    });
                }
            }
            match best {
                Some(found) if found.outcome == OptOut => return Some(found),
                Some(found) if review.is_none() => review = Some(found),
                _ => {}
            }
        }
        review
    }
}
