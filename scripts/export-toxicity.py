#!/usr/bin/env python3
"""Exports alt-profanity-check's classifier as plain JSON for the trust
service's Rust scorer.

    export-toxicity.py OUT.json

The package ships a scikit-learn TfidfVectorizer and a CalibratedClassifierCV
(sigmoid calibration over a LinearSVC, one calibrated copy per CV fold) as
joblib files. This writes:

  vectorizer   the TF-IDF settings as the fitted vectoriser has them
  terms, idf   the vocabulary in feature-index order, with each term's idf
  folds        per calibrated fold: linear weights w (dense, feature order),
               intercept b0 and the sigmoid calibration a, b
  check        (sentence, probability) pairs from profanity_check.predict_prob

The probability of "profane" is

    mean over folds of 1 / (1 + exp(a * (w . x + b0) + b))

where x is the l2-normalised tf-idf vector: sklearn's _SigmoidCalibration
predicts expit(-(a*T + b)) from the decision function T, and
CalibratedClassifierCV.predict_proba averages its calibrated classifiers.
Before writing, the script recomputes every check sentence with that formula
in plain Python (its own tokeniser, no sklearn transform) and refuses to
write if any differs from predict_prob by more than 1e-9.
"""

import json
import math
import re
import sys

import numpy as np
import sklearn
from profanity_check import profanity_check as pc

CHECK_SENTENCES = [
    "Have a lovely day, everyone!",
    "The film about the war won an award at the festival.",
    "A report on suicide prevention services in rural areas.",
    "Police seized weapons and ammunition during the raid.",
    "You are a complete idiot and everybody hates you.",
    "What the fuck is wrong with you?",
    "This is some bullshit, honestly.",
    "Shut up, you stupid bitch.",
    "The quarterly results beat analysts' expectations.",
    "I love this recipe for banana bread.",
    "Go to hell, asshole.",
    "He is such a dumbass, lol.",
    "The council approved the new cycle lanes on Tuesday.",
    "damn, that was a close game",
    "Kill yourself, nobody wants you here.",
    "The pussy cat slept on the warm windowsill.",
    "Don't be such a crybaby about it.",
    "Ça va très bien, merci beaucoup!",
    "the the the and of",
    "",
    "Scientists published a study on climate change today.",
    "Stop being a jerk to your little sister.",
]

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def main(out_path):
    vec = pc.vectorizer
    model = pc.model
    params = vec.get_params()
    for key, expected in [
        ("analyzer", "word"),
        ("preprocessor", None),
        ("tokenizer", None),
        ("strip_accents", None),
        ("token_pattern", DEFAULT_TOKEN_PATTERN),
    ]:
        if params[key] != expected:
            sys.exit(f"unsupported vectoriser setting {key}={params[key]!r}")
    if model.get_params()["method"] != "sigmoid":
        sys.exit("only sigmoid calibration is supported")
    if list(model.classes_) != [0, 1]:
        sys.exit(f"unexpected classes {model.classes_!r}")

    n = len(vec.vocabulary_)
    terms = [None] * n
    for term, index in vec.vocabulary_.items():
        terms[index] = term
    assert all(t is not None for t in terms)
    idf = [float(v) for v in vec.idf_]
    stop = sorted(vec.get_stop_words() or [])
    # Stop words are dropped before counting; none is in the vocabulary, so
    # the scorer only needs the vocabulary. Check that it holds.
    assert not set(stop) & set(terms), "a stop word is in the vocabulary"

    folds = []
    for cc in model.calibrated_classifiers_:
        est = cc.estimator
        assert est.coef_.shape == (1, n), est.coef_.shape
        (cal,) = cc.calibrators
        folds.append(
            {
                "w": [float(v) for v in est.coef_[0]],
                "b0": float(est.intercept_[0]),
                "a": float(cal.a_),
                "b": float(cal.b_),
            }
        )

    # The reference: the package's own predict_prob.
    probs = [float(p) for p in pc.predict_prob(CHECK_SENTENCES)]

    # Recompute with the exported numbers and a tokeniser of our own.
    index = {t: i for i, t in enumerate(terms)}
    token = re.compile(DEFAULT_TOKEN_PATTERN)
    lo, hi = params["ngram_range"]
    worst = 0.0
    for text, expected in zip(CHECK_SENTENCES, probs):
        words = token.findall(text.lower() if params["lowercase"] else text)
        words = [w for w in words if w not in set(stop)]
        grams = []
        for k in range(lo, hi + 1):
            grams += [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]
        counts = {}
        for g in grams:
            if g in index:
                counts[index[g]] = counts.get(index[g], 0) + 1
        x = {}
        for i, c in counts.items():
            tf = 1.0 if params["binary"] else float(c)
            if params["sublinear_tf"]:
                tf = 1.0 + math.log(tf)
            x[i] = tf * (idf[i] if params["use_idf"] else 1.0)
        if params["norm"] == "l2":
            norm = math.sqrt(sum(v * v for v in x.values()))
        elif params["norm"] == "l1":
            norm = sum(abs(v) for v in x.values())
        else:
            norm = 0.0
        if norm > 0:
            x = {i: v / norm for i, v in x.items()}
        p = 0.0
        for f in folds:
            t = sum(v * f["w"][i] for i, v in x.items()) + f["b0"]
            p += 1.0 / (1.0 + math.exp(f["a"] * t + f["b"]))
        p /= len(folds)
        worst = max(worst, abs(p - expected))
        print(f"{expected:.6f} {p:.6f}  {text!r}")
    if worst > 1e-9:
        sys.exit(f"the formula does not reproduce predict_prob: worst difference {worst:g}")
    print(f"formula reproduces predict_prob on {len(probs)} sentences (worst |diff| {worst:.2e})")

    lo, hi = params["ngram_range"]
    doc = {
        "source": "alt-profanity-check 1.9.1 (profanity_check/data/*.joblib)",
        "sklearn_version": sklearn.__version__,
        "formula": "p = mean over folds of 1/(1+exp(a*(w.x+b0)+b)), x = tf-idf vector",
        "vectorizer": {
            "lowercase": bool(params["lowercase"]),
            "token_pattern": params["token_pattern"],
            "ngram_range": [int(lo), int(hi)],
            "binary": bool(params["binary"]),
            "sublinear_tf": bool(params["sublinear_tf"]),
            "use_idf": bool(params["use_idf"]),
            "smooth_idf": bool(params["smooth_idf"]),
            "norm": params["norm"],
            "stop_words": stop,
        },
        "terms": terms,
        "idf": idf,
        "folds": folds,
        "check": [{"text": t, "prob": p} for t, p in zip(CHECK_SENTENCES, probs)],
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    import os

    os.replace(tmp, out_path)
    print(f"wrote {out_path}: {n} terms, {len(folds)} folds")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: export-toxicity.py OUT.json")
    main(sys.argv[1])
