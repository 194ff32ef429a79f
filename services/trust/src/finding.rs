//! What a review finds and decides: policies, categories, actions,
//! findings and verdicts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The five policies of the trust service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    Privacy,
    Safety,
    Bias,
    Authenticity,
    Copyright,
    /// A check that could not run (the verdict fails closed).
    Internal,
}

impl Policy {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Privacy => "privacy",
            Policy::Safety => "safety",
            Policy::Bias => "bias",
            Policy::Authenticity => "authenticity",
            Policy::Copyright => "copyright",
            Policy::Internal => "internal",
        }
    }
}

macro_rules! categories {
    ($($variant:ident => $policy:ident, $name:literal, $doc:literal;)*) => {
        /// Every category a check can report. A bundle names categories by
        /// these strings; an unknown name is refused.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Category {
            $(#[doc = $doc] $variant,)*
        }

        impl Category {
            /// Every category.
            pub const ALL: &'static [Category] = &[$(Category::$variant,)*];

            /// The dotted name, e.g. `privacy.email`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Category::$variant => $name,)*
                }
            }

            /// The policy the category belongs to.
            pub fn policy(self) -> Policy {
                match self {
                    $(Category::$variant => Policy::$policy,)*
                }
            }

            /// The category with this dotted name.
            pub fn from_name(name: &str) -> Option<Category> {
                match name {
                    $($name => Some(Category::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

categories! {
    PrivacyEmail => Privacy, "privacy.email", "An e-mail address.";
    PrivacyPhone => Privacy, "privacy.phone", "A phone number, international or national.";
    PrivacyPaymentCard => Privacy, "privacy.payment_card", "A payment card number that passes Luhn.";
    PrivacyIban => Privacy, "privacy.iban", "An IBAN that passes mod 97.";
    PrivacyNationalId => Privacy, "privacy.national_id", "A national id: US SSN and ITIN, UK NHS and National Insurance numbers, passport and driving licence numbers.";
    PrivacyIpAddress => Privacy, "privacy.ip_address", "An IPv4 or IPv6 address.";
    PrivacySecret => Privacy, "privacy.secret", "An API key, token, private key, or a password or PIN given in a sentence.";
    PrivacyBankAccount => Privacy, "privacy.bank_account", "A bank account, US routing or UK sort code number, given with its context.";
    PrivacyMacAddress => Privacy, "privacy.mac_address", "A network device's MAC address.";
    PrivacyCryptoWallet => Privacy, "privacy.crypto_wallet", "A Bitcoin or Ethereum address that passes its checksum.";
    PrivacyDateOfBirth => Privacy, "privacy.date_of_birth", "A person's own date of birth.";
    PrivacyStreetAddress => Privacy, "privacy.street_address", "A street address with a postcode or ZIP, or given as someone's own.";
    PrivacyUrl => Privacy, "privacy.url", "A URL whose query or path carries personal data.";
    PrivacyCrossUser => Privacy, "privacy.cross_user", "Another user's registered private attribute.";
    SafetyViolence => Safety, "safety.violence", "Violence or threats of it.";
    SafetySelfHarm => Safety, "safety.self_harm", "Self-harm or suicide.";
    SafetyHate => Safety, "safety.hate", "Hate against a protected group.";
    SafetyHarassment => Safety, "safety.harassment", "Harassment or insults aimed at a person.";
    SafetySexual => Safety, "safety.sexual", "Sexual content.";
    SafetyWeapons => Safety, "safety.weapons", "Weapons: making or acquiring them.";
    SafetyIllegal => Safety, "safety.illegal", "Other illegal activity: drugs, fraud, theft.";
    SafetyChildSafety => Safety, "safety.child_safety", "Grooming or sexualising children.";
    SafetyToxicity => Safety, "safety.toxicity", "Toxic or profane language (classifier and graded lists).";
    SafetyPromptInjection => Safety, "safety.prompt_injection", "An instruction that tries to override the generator's rules.";
    SafetyDataExfiltration => Safety, "safety.data_exfiltration", "An instruction that asks for another person's data.";
    SafetyInjectedInstructions => Safety, "safety.injected_instructions", "Text in an item's content that speaks to an AI and tries to give it instructions (labelled; never followed).";
    SafetyDisinformationRequest => Safety, "safety.disinformation_request", "An instruction that asks to fabricate news or to present health misinformation as true.";
    BiasInsensitive => Bias, "bias.insensitive", "Insensitive or non-inclusive wording, with a suggestion.";
    BiasStereotype => Bias, "bias.stereotype", "A generalisation about a group (\"all X are ...\").";
    AuthenticityUnsupported => Authenticity, "authenticity.unsupported", "A factual sentence no cited source supports.";
    CopyrightNearDuplicate => Copyright, "copyright.near_duplicate", "Content that nearly duplicates a claimed work.";
    CopyrightDerivative => Copyright, "copyright.derivative", "An edit of a parent whose licence forbids derivatives.";
    CopyrightSource => Copyright, "copyright.source", "Generated content that copies more of a source than its licence allows, without naming it, or from sources whose licences cannot be combined.";
    InternalError => Internal, "internal.error", "A check that could not run.";
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to content, from least to most strict. The verdict of a
/// review is the strictest action among its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    /// Allowed, shown with a label (e.g. "may contain unverified claims").
    AllowWithLabel,
    /// Allowed once the spans are masked.
    Redact,
    /// Held for a person to decide.
    Review,
    Block,
}

impl Action {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::AllowWithLabel => "allow_with_label",
            Action::Redact => "redact",
            Action::Review => "review",
            Action::Block => "block",
        }
    }
}

/// Where in the request a finding points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Content,
    Instruction,
}

/// One thing a check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub policy: Policy,
    pub category: Category,
    /// Which rule fired, e.g. `privacy.payment_card.luhn`.
    pub rule_id: String,
    pub field: Field,
    /// Byte range in the field, where the finding has one.
    pub span: Option<(usize, usize)>,
    /// Confidence in [0, 1].
    pub score: f32,
    /// Why, in words a compliance team can act on. Never the raw personal
    /// data: privacy evidence is masked.
    pub evidence: String,
    /// A better wording, for bias findings.
    pub suggestion: Option<String>,
    /// The action the bundle takes for this category (set by the reviewer).
    pub action: Action,
}

impl Finding {
    /// A finding in the content with the action still to be decided.
    pub fn new(
        category: Category,
        rule_id: impl Into<String>,
        score: f32,
        evidence: impl Into<String>,
    ) -> Self {
        Finding {
            policy: category.policy(),
            category,
            rule_id: rule_id.into(),
            field: Field::Content,
            span: None,
            score: score.clamp(0.0, 1.0),
            evidence: evidence.into(),
            suggestion: None,
            action: Action::Allow,
        }
    }

    /// Sets the byte span.
    pub fn at(mut self, start: usize, end: usize) -> Self {
        self.span = Some((start, end));
        self
    }

    /// Marks the finding as pointing into the instruction.
    pub fn in_instruction(mut self) -> Self {
        self.field = Field::Instruction;
        self
    }

    /// Adds a suggested rewording.
    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }
}

impl Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Masks personal data for evidence: keeps the first and last character
/// and the length.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=4 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_order_from_least_to_most_strict() {
        let mut all = vec![
            Action::Block,
            Action::Allow,
            Action::Review,
            Action::Redact,
            Action::AllowWithLabel,
        ];
        all.sort();
        assert_eq!(
            all,
            vec![
                Action::Allow,
                Action::AllowWithLabel,
                Action::Redact,
                Action::Review,
                Action::Block
            ]
        );
    }

    #[test]
    fn category_names_round_trip_and_unknown_names_are_none() {
        for &c in Category::ALL {
            assert_eq!(Category::from_name(c.as_str()), Some(c));
            assert!(c.as_str().starts_with(c.policy().as_str()));
        }
        assert_eq!(Category::from_name("privacy.emial"), None);
    }

    #[test]
    fn mask_hides_the_middle() {
        assert_eq!(mask("alice@example.com"), "a***************m");
        assert_eq!(mask("1234"), "****");
    }
}
