//! The texts the classifier is timed on, and the providers' rule it is compared with, shared by
//! the release benchmark (`make bench`) and `shared/benches/hot_paths.rs`, so both measure the
//! same thing.

/// The baseline: what most providers do, an exact match of the whole message against a list of
/// single words.
pub struct ExactWordMatch(std::collections::HashSet<&'static str>);

impl ExactWordMatch {
    pub fn providers() -> ExactWordMatch {
        ExactWordMatch(
            [
                "STOP",
                "STOPALL",
                "UNSUBSCRIBE",
                "CANCEL",
                "END",
                "QUIT",
                "REVOKE",
                "OPTOUT",
            ]
            .into(),
        )
    }

    pub fn is_stop(&self, text: &str) -> bool {
        self.0.contains(text.trim().to_uppercase().as_str())
    }
}

/// The ten texts the earlier figures were measured with.
pub const TEXTS: [&str; 10] = [
    "STOP",
    "Stop please",
    "please stop texting me",
    "weekend plans?",
    "Is my order ready? I need it by Friday",
    "ＳＴＯＰ",
    "leave me alone",
    "START",
    "Thanks! See you at the end of the week",
    "cancel texts",
];

/// Replies as they arrive, in the three languages the grammar reads.
pub const MIX: [&str; 24] = [
    "STOP",
    "Yes",
    "Can you move my appointment to Thursday at 3?",
    "Thanks! 👍",
    "BAJA",
    "¿A qué hora abren mañana?",
    "No me manden más mensajes por favor",
    "Oi, tudo bem? Quero saber o preço do plano",
    "pare de me mandar mensagem",
    "Is my order ready? I need it by Friday",
    "stop texting me",
    "Sácame de la lista",
    "Obrigado pelo atendimento!",
    "I don't want these texts",
    "quiero dejar de fumar",
    "SAIR",
    "ok see you then",
    "não quero mais receber",
    "Perfecto, gracias, nos vemos el lunes",
    "cancel my appointment",
    "HELP",
    "Who is this?",
    "Dejen de escribirme",
    "I'll be there in 10 minutes",
];
