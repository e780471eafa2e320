"""The offline prompt planner: a plain request in words into a course spec, without a model.

Table-driven and deliberately simple: quantities with units (digits or words: "25 mm", "two
metres", "half a metre"), the payload's shape, size and material from its nouns and
adjectives, and course elements (gaps, walls, slots, steps, cups…) with the quantities said
next to them. Everything it used is reported with the words it came from; every other content
word is reported as ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from benchgen_dagster.courses.generator import GOALS, MECHANISMS, OBSTACLES
from benchgen_dagster.courses.layout import START_PAD, START_X, WHOLE_NUMBERS
from benchgen_dagster.courses.spec import CourseSpec, SpecRejected, parse_spec
from benchgen_dagster.errors import UserError

UNITS = {
    "mm": 1.0,
    "millimetre": 1.0,
    "millimeter": 1.0,
    "cm": 10.0,
    "centimetre": 10.0,
    "centimeter": 10.0,
    "m": 1000.0,
    "metre": 1000.0,
    "meter": 1000.0,
}
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "half": 0.5,
    "quarter": 0.25,
}
PAYLOAD_NOUNS = {
    "ball": "sphere",
    "marble": "sphere",
    "sphere": "sphere",
    "bead": "sphere",
    "cube": "box",
    "box": "box",
    "block": "box",
    "crate": "box",
    "brick": "box",
    "cylinder": "cylinder",
    "can": "cylinder",
    "puck": "cylinder",
    "disc": "cylinder",
    "disk": "cylinder",
    "coin": "cylinder",
    "tin": "cylinder",
    "capsule": "capsule",
    "rod": "capsule",
    "pill": "capsule",
    "pencil": "capsule",
    "stick": "capsule",
    "ring": "ring",
    "washer": "ring",
    "hoop": "ring",
    "donut": "ring",
    "doughnut": "ring",
    "annulus": "ring",
}
MATERIAL_WORDS = {
    "rubber": "rubber",
    "wooden": "wood",
    "wood": "wood",
    "steel": "steel",
    "metal": "steel",
    "iron": "steel",
    "aluminium": "aluminium",
    "aluminum": "aluminium",
    "plastic": "plastic",
    "ice": "ice",
    "icy": "ice",
}
# course words → module type
ELEMENTS = {
    "gap": "gap",
    "pit": "gap",
    "hole": "gap",
    "chasm": "gap",
    "trench": "gap",
    "wall": "wall",
    "barrier": "wall",
    "fence": "wall",
    "window": "window_wall",
    "opening": "window_wall",
    "slot": "slot_wall",
    "slit": "slot_wall",
    "bin": "bin",
    "basket": "bin",
    "trough": "bin",
    "tray": "bin",
    "cup": "cup",
    "mug": "cup",
    "bowl": "cup",
    "post": "post",
    "pillar": "post",
    "pole": "post",
    "column": "post",
    "corridor": "corridor",
    "channel": "corridor",
    "passage": "corridor",
    "bump": "bump",
    "hump": "bump",
    "ridge": "bump",
    "funnel": "funnel",
    "ramp": "ramp",
    "slope": "ramp",
    "incline": "ramp",
    "stair": "stairs",
    "staircase": "stairs",
    "step": "step",
    "cliff": "step_down",
    "shelf": "step_up",
    "ledge": "step_up",
    "platform": "platform",
    "table": "platform",
    "gate": "gate",
    "flap": "gate",
    "door": "gate",
    "lever": "lever",
    "seesaw": "lever",
    "boom": "lever",
    "slider": "slider",
    "piston": "slider",
    "plunger": "slider",
}
SLIDING = {"sliding", "slide", "moving"}  # "a sliding platform", "a sliding door": a slider
KINEMATIC = {"trapdoor", "crank", "hinge", "pulley", "spring"}  # not in the language
UP_WORDS = {"up", "above", "higher", "high", "raised", "climb", "onto", "uphill", "rise"}
DOWN_WORDS = {"down", "below", "lower", "drop", "dropped", "falls", "fall", "deep", "downhill"}
DISTANCE_WORDS = {"away", "sideways", "side", "left", "right", "along", "beyond", "further",
                  "farther", "forward", "ahead", "off", "distant"}  # fmt: skip
STOP_WORDS = set(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "into",
        "onto",
        "at",
        "by",
        "from",
        "with",
        "and",
        "or",
        "must",
        "should",
        "is",
        "are",
        "be",
        "it",
        "its",
        "that",
        "this",
        "then",
        "than",
        "there",
        "which",
        "who",
        "where",
        "so",
        "as",
        "end",
        "up",
        "reach",
        "reaches",
        "reached",
        "get",
        "gets",
        "come",
        "comes",
        "rest",
        "rests",
        "land",
        "lands",
        "landing",
        "point",
        "goal",
        "out",
        "only",
        "slightly",
        "without",
        "touching",
        "touch",
        "mm",
        "cm",
        "m",
        "metre",
        "metres",
        "meter",
        "meters",
        "millimetre",
        "millimetres",
        "centimetre",
        "centimetres",
        "half",
        "quarter",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "its",
        "their",
        "each",
        "every",
        "standing",
        "stands",
        "stand",
        "lying",
        "sitting",
        "placed",
        "set",
        "sits",
        "some",
        "very",
        "just",
        "over",
        "under",
        "through",
        "past",
        "between",
        "behind",
        "front",
        "next",
    ]
)
DEFAULT_RADIUS = 20.0


class PlanError(UserError):
    """A prompt the planner cannot map onto a course."""


@dataclass
class Quantity:
    mm: float
    words: str
    start: int  # token index of the first word
    end: int  # one past the last
    used: bool = False


@dataclass
class Plan:
    understood: dict[str, dict[str, Any]]
    ignored: list[str]
    spec: CourseSpec

    def as_json(self) -> dict[str, Any]:
        return {
            "understood": self.understood,
            "ignored": self.ignored,
            "spec": self.spec.as_data(),
        }


@dataclass
class _Reading:
    tokens: list[str]
    quantities: list[Quantity]
    used: set[int] = field(default_factory=set)
    understood: dict[str, dict[str, Any]] = field(default_factory=dict)

    def note(self, name: str, value: Any, words: str, unit: str = "mm") -> None:
        self.understood[name] = (
            {unit: value, "words": words} if unit else {"value": value, "words": words}
        )


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers; hyphens split ("20-30" → 20 - 30, "half-metre")."""
    text = text.lower().replace("×", " x ")
    return re.findall(r"\d+(?:\.\d+)?|[a-z]+|-", text)


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _number_at(tokens: list[str], i: int) -> tuple[float, int] | None:
    """A number starting at token i (digits, words, "half a", "one and a half"), and the
    index after it."""
    word = tokens[i]
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        return float(word), i + 1
    if word not in NUMBER_WORDS:
        return None
    if word == "half" or word == "quarter":  # "half a metre"
        j = i + 1 + (i + 1 < len(tokens) and tokens[i + 1] in ("a", "an"))
        return NUMBER_WORDS[word], j
    value, j = float(NUMBER_WORDS[word]), i + 1
    if tokens[j : j + 3] == ["and", "a", "half"]:
        return value + 0.5, j + 3
    if j < len(tokens) and tokens[j] == "hundred":
        return value * 100, j + 1
    if (
        j < len(tokens)
        and tokens[j] in NUMBER_WORDS
        and 0 < NUMBER_WORDS[tokens[j]] < 10
        and value >= 20
    ):
        return value + NUMBER_WORDS[tokens[j]], j + 1  # "twenty five"
    return value, j


def quantities(tokens: list[str]) -> list[Quantity]:
    """Every length with a unit; "20-30 mm" gives two quantities (a range)."""
    found: list[Quantity] = []
    i = 0
    while i < len(tokens):
        number = _number_at(tokens, i)
        if number is None:
            i += 1
            continue
        value, j = number
        low = None
        if (
            j + 1 < len(tokens)
            and tokens[j] in ("-", "to")
            and (second := _number_at(tokens, j + 1))
        ):
            low, (value, j) = value, second
        unit = singular(tokens[j]) if j < len(tokens) else ""
        if unit in UNITS:
            scale = UNITS[unit]
            words = " ".join(tokens[i : j + 1])
            if low is not None:
                found.append(Quantity(low * scale, words, i, j + 1))
            found.append(Quantity(value * scale, words, i, j + 1))
            i = j + 1
        else:
            i += 1
    return found


def plan_prompt(prompt: str, hint: str | None = None) -> Plan:
    """A spec for a prompt (and an optional payload hint), or PlanError."""
    text = prompt if not hint else f"{prompt}. {hint}"
    tokens = tokenize(text)
    reading = _Reading(tokens, quantities(tokens))
    payload = _payload(reading)
    modules = _modules(reading, payload)
    if payload is None and not modules:
        raise PlanError(
            f"cannot map {prompt!r} onto a course: it names no payload (a ball, cube, "
            f"cylinder, rod…) and no course element ({', '.join(sorted(ELEMENTS))})"
        )
    payload = payload or {"shape": "sphere", "radius": DEFAULT_RADIUS, "material": "wood"}
    for module in modules:
        if module.get("slot_width") == "narrow":  # "only slightly wider than the ball"
            across = 2 * max(_as_list(payload.get("radius") or payload.get("side", 0) / 2))
            module["slot_width"] = round(across + 16.0, 1)
            reading.note("module.slot_width", module["slot_width"], "narrow slot")
    _distances(reading, modules, payload)
    if not any(m["type"] in ("bin", "cup") for m in modules):
        modules.append({"type": "bin"})
    course = ",".join(m["type"] for m in modules)
    reading.understood["course"] = {"value": course, "words": ""}
    data: dict[str, Any] = {"payload": payload, "modules": modules}
    if "start_height" in reading.understood:
        data["start_height"] = reading.understood["start_height"]["mm"]
    try:
        fixed = parse_spec(data)
    except SpecRejected as rejected:
        raise PlanError(
            f"the course read from {prompt!r} cannot be built: {'; '.join(rejected.problems)}"
        ) from None
    try:  # seeds vary what the prompt left open, and what it said by a few percent
        varied = _varied(fixed.as_data(), data, "goal_distance" in reading.understood)
        spec = parse_spec(varied)
    except SpecRejected:
        spec = fixed
    return Plan(reading.understood, _ignored(reading), spec)


SAID_SPREAD = 0.04  # a value the prompt states varies by this share either way


def _varied(data: dict[str, Any], said_data: dict[str, Any], distance_said: bool) -> dict:
    """The spec with ranges: what the prompt said (or what makes up a said distance) ±4%,
    what it left open over the generator's usual range, unless a distance was said (then
    everything stays within 4%, so the distance holds)."""
    said = {k for k, v in data["payload"].items() if isinstance(v, int | float)}
    payload = {k: _around(v) if k in said else v for k, v in data["payload"].items()}
    modules = []
    for module, said_module in zip(data["modules"], said_data["modules"], strict=True):
        usual = {**OBSTACLES, **MECHANISMS, **GOALS}.get(module["type"], {})
        varied = {}
        for key, value in module.items():
            if key == "type" or key in WHOLE_NUMBERS or not isinstance(value, int | float):
                varied[key] = value
            elif key in said_module or distance_said or key not in usual:
                varied[key] = _around(value)
            else:
                varied[key] = usual[key]
        modules.append(varied)
    result = {**data, "payload": payload, "modules": modules}
    if data.get("start_height") is not None:
        result["start_height"] = _around(data["start_height"])
    return result


def _around(value: float) -> list[float]:
    return [round(value * (1 - SAID_SPREAD), 1), round(value * (1 + SAID_SPREAD), 1)]


def _payload(r: _Reading) -> dict[str, Any] | None:
    tokens = r.tokens
    mentions = [
        i
        for i, word in enumerate(tokens)
        if singular(word) in PAYLOAD_NOUNS
        and not (word == "box" and {"goal", "into", "in"} & set(tokens[max(0, i - 2) : i]))
    ]  # "into a box" is a bin
    if not mentions:
        return None
    word = tokens[mentions[0]]
    shape = PAYLOAD_NOUNS[singular(word)]
    r.used.update(i for i in mentions if PAYLOAD_NOUNS[singular(tokens[i])] == shape)
    r.note("payload.shape", shape, word, unit="")
    payload: dict[str, Any] = {"shape": shape}
    default = {"puck": "ice", "washer": "steel"}.get(
        word, "wood" if shape == "sphere" else "plastic"
    )
    payload["material"] = _material(r) or default
    if shape != "sphere" and payload["material"] in ("rubber", "wood"):
        payload["material"] = "plastic"  # a chute carries sliding payloads of low friction
    sized = [_payload_size(r, i, word, payload, dict(payload)) for i in mentions]
    if not any(sized):
        _default_size(payload, word)
    return payload


def _material(r: _Reading) -> str | None:
    for j, word in enumerate(r.tokens):
        if word in MATERIAL_WORDS:
            r.used.add(j)
            r.note("payload.material", MATERIAL_WORDS[word], word, unit="")
            return MATERIAL_WORDS[word]
    return None


SIZE_AFTER = ("radius", "across", "diameter", "wide", "on", "in", "thick")


def _payload_size(
    r: _Reading, i: int, word: str, payload: dict[str, Any], before: dict[str, Any]
) -> bool:
    """ "a 30 mm marble", "a 25 mm steel ball", "a ball, 20-30 mm radius", "a cylinder, 40 mm
    across"; whether a size was found."""
    tokens = r.tokens
    near = [
        q
        for q in r.quantities
        if not q.used
        and (
            q.end == i
            or (q.end == i - 1 and tokens[i - 1] in MATERIAL_WORDS)
            or (i < q.start <= i + 2 and q.end < len(tokens) and tokens[q.end] in SIZE_AFTER)
        )
    ]
    if not near:
        return False
    if any(k in before for k in ("radius", "side")):  # said again ("a 60 mm cube … a 60 mm cube")
        for q in near:
            q.used = True
        return False
    group = [q for q in near if q.words == near[0].words]
    after = r.tokens[group[-1].end : group[-1].end + 2]
    kind = "radius" if "radius" in after else "diameter"
    for q in group:
        q.used = True
    values = [q.mm for q in group]
    shape = payload["shape"]
    said_how = bool(after) and after[0] in ("radius", "across", "diameter", "wide")
    words = group[0].words + (f" {after[0]}" if said_how else "")
    if said_how:
        r.used.add(group[-1].end)
    if shape == "box":
        size = values if len(values) == 2 else values[0]
        payload["side"] = size
        r.note("payload.side", size, words)
        return True
    radius = values if kind == "radius" else [v / 2 for v in values]
    payload["radius"] = radius if len(radius) == 2 else radius[0]
    r.note("payload.radius", payload["radius"], words)
    if shape in ("cylinder", "capsule"):
        payload["length"] = 20.0 if word == "puck" else 2 * max(radius)
    if shape == "ring":
        _ring_band(payload, word)
    return True


def _ring_band(payload: dict[str, Any], word: str) -> None:
    """A ring's band and height from its radius: a washer is flat, a hoop a thin band."""
    outer = max(_as_list(payload["radius"]))
    share = {"washer": (0.35, 0.1), "hoop": (0.12, 0.25)}.get(word, (0.25, 0.25))
    payload["width"] = round(min(max(share[0] * outer, 4.0), 30.0, 0.9 * outer), 1)
    payload["height"] = round(min(max(share[1] * outer, 4.0), 40.0), 1)


def _default_size(payload: dict[str, Any], word: str) -> None:
    shape = payload["shape"]
    if shape == "box":
        payload["side"] = 40.0
    else:
        payload["radius"] = 7.0 if word == "marble" else DEFAULT_RADIUS
    if shape in ("cylinder", "capsule"):
        payload["length"] = 20.0 if word == "puck" else 60.0 if shape == "capsule" else 40.0
    if shape == "ring":
        payload["radius"] = 30.0
        _ring_band(payload, word)


def _modules(r: _Reading, payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    modules: list[dict[str, Any]] = []
    tokens = r.tokens
    for i, word in enumerate(tokens):
        base = singular(word)
        if base in KINEMATIC:
            continue  # the kinematic modules are not part of the language yet
        kind = ELEMENTS.get(base)
        if kind is None or i in r.used:
            continue
        if base == "box" and not any(
            t in ("goal", "into", "in") for t in tokens[max(0, i - 2) : i]
        ):
            continue
        r.used.add(i)
        kind = _direction(kind, tokens, i)
        if i > 0 and tokens[i - 1] in SLIDING and kind in ("platform", "gate", "wall"):
            kind = "slider"
            r.used.add(i - 1)
        said = {m["type"] for m in modules}
        if tokens[i - 1 : i] == ["the"] and kind in said:
            continue  # "the pit": one already named
        if (
            kind == "wall"
            and said & {"slot_wall", "window_wall"}
            and i >= 3
            and tokens[i - 3] in ELEMENTS
        ):
            continue  # "a slot in a wall"
        if kind in ("step_up", "step_down", "platform") and "stairs" in said:
            continue  # "the lowest step" of a staircase
        count = _count_before(tokens, i)
        if kind in ("step_up", "step_down") and count > 1:  # "four 60 mm steps"
            module_kind, kind = kind, "stairs"
            rise_sign = -1 if module_kind == "step_down" or "up" not in tokens[i - 6 : i + 4] else 1
        else:
            rise_sign = -1
        if kind == "stairs" and count == 1:
            count = next(
                (
                    _count_before(tokens, j)
                    for j in range(i - 3, i)
                    if j >= 0 and singular(tokens[j]) == "level"
                ),
                1,
            )
        module: dict[str, Any] = {"type": kind}
        if kind == "stairs":
            module["rise_sign"] = rise_sign
        _module_sizes(r, i, module)
        name = f"m{len(modules) + 1}"
        r.note(f"{name}.type", module["type"], " ".join(tokens[max(0, i - 1) : i + 1]), unit="")
        if kind == "slot_wall" and {"narrow", "slightly", "tight"} & set(tokens[i - 3 : i + 8]):
            module.setdefault("slot_width", "narrow")
        repeat = 1 if kind in ("stairs", "platform") else count
        for _ in range(min(repeat, 3)):
            modules.append(dict(module))
        if module["type"] == "stairs" and count > 1:
            module_ref = modules[-1]
            module_ref["steps"] = min(max(count, 2), 8)
            r.note(
                f"{name}.steps",
                module_ref["steps"],
                " ".join(tokens[max(0, i - 3) : i + 1]),
                unit="",
            )
    # a goal module is always last
    goals = [m for m in modules if m["type"] in ("bin", "cup")]
    return [m for m in modules if m["type"] not in ("bin", "cup")] + goals[-1:]


def _as_list(value: Any) -> list[float]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _count_before(tokens: list[str], i: int) -> int:
    for j in range(max(0, i - 4), i):
        word = tokens[j]
        if (
            word in NUMBER_WORDS
            and word not in ("a", "an", "half", "quarter")
            and NUMBER_WORDS[word] <= 8
        ):
            following = tokens[j + 1] if j + 1 < len(tokens) else ""
            if singular(following) not in UNITS:
                return int(NUMBER_WORDS[word])
        if (
            re.fullmatch(r"\d+", word)
            and j + 1 < len(tokens)
            and singular(tokens[j + 1]) not in UNITS
        ):
            return min(int(word), 8)
    return 1


def _direction(kind: str, tokens: list[str], i: int) -> str:
    if kind != "step":
        return kind
    window = set(tokens[max(0, i - 6) : i + 6])
    if window & {"down", "lower", "drop", "below"}:
        return "step_down"
    return "step_up"


SIZE_FIELDS = {
    "gap": {"wide": "width", "across": "width", "long": "width", "deep": "depth", "": "width"},
    "wall": {"high": "height", "tall": "height", "thick": "thickness", "": "height"},
    "window_wall": {
        "wide": "window_width",
        "across": "window_width",
        "high": "window_height",
        "tall": "window_height",
        "": "window_width",
    },
    "slot_wall": {"wide": "slot_width", "across": "slot_width", "": "slot_width"},
    "bin": {
        "wide": "width",
        "long": "width",
        "deep": "wall_height",
        "high": "wall_height",
        "": "width",
    },
    "cup": {
        "wide": "radius",
        "across": "radius",
        "high": "height",
        "tall": "height",
        "deep": "height",
        "": "radius",
    },
    "post": {"high": "height", "tall": "height", "thick": "radius", "wide": "radius", "": "height"},
    "corridor": {"wide": "width", "long": "length", "high": "wall_height", "": "width"},
    "bump": {"high": "height", "tall": "height", "wide": "base", "long": "base", "": "height"},
    "funnel": {"wide": "mouth", "long": "length", "": "mouth"},
    "ramp": {"long": "length", "high": "rise", "": "length"},
    "stairs": {"high": "step_height", "deep": "step_depth", "": "step_height"},
    "step_up": {"high": "height", "above": "height", "higher": "height", "": "height"},
    "step_down": {
        "down": "height",
        "below": "height",
        "lower": "height",
        "deep": "height",
        "": "height",
    },
    "platform": {"long": "length", "": "length"},
    **{
        kind: {"high": "height", "tall": "height", "thick": "thickness", "": "height"}
        for kind in ("gate", "lever", "slider")
    },
}
HALVED = {("cup", "radius")}  # a cup's size is said across, its field is a radius


def _module_sizes(r: _Reading, i: int, module: dict[str, Any]) -> None:
    """Quantities said right before the element ("a 40 mm step", "four 60 mm steps") or
    right after it ("a gap 200 mm wide", "a shelf 120 mm above it")."""
    kind = module["type"]
    fields = SIZE_FIELDS.get(kind, {})
    for q in r.quantities:
        if q.used:
            continue
        before = i - 3 <= q.start < i and q.end <= i + 1
        after = i < q.start <= i + 3
        if not (before or after) or set(r.tokens[q.end : q.end + 3]) & DISTANCE_WORDS:
            continue
        qualifier = r.tokens[q.end] if after and q.end < len(r.tokens) else ""
        name = fields.get(qualifier) or fields.get("")
        if not name or name in module:
            continue
        value = q.mm / 2 if (kind, name) in HALVED else q.mm
        if kind == "ramp" and name == "rise":
            value = -value if "down" in r.tokens[i - 3 : i + 6] else value
        q.used = True
        if qualifier:
            r.used.add(q.end)
        module[name] = round(value, 1)
        label = f"m?.{name}"
        r.note(label, module[name], q.words + (f" {qualifier}" if qualifier else ""))


def _distances(r: _Reading, modules: list[dict[str, Any]], payload: dict[str, Any]) -> None:
    """A stated distance to the goal ("half a metre away", "70 cm to the left") sets the run
    from the payload's start to the goal's centre, with a platform making up the length;
    a stated drop ("dropped from 40 cm") sets the start's height; a further height ("300 mm
    further down", "120 mm above") becomes a step."""
    tokens = r.tokens
    for q in r.quantities:
        if q.used:
            continue
        around = set(tokens[max(0, q.start - 3) : q.start]) | set(tokens[q.end : q.end + 4])
        if around & DISTANCE_WORDS and not around & (UP_WORDS | DOWN_WORDS - {"drop"}):
            q.used = True
            r.used.update(
                j
                for j in range(max(0, q.start - 3), min(len(tokens), q.end + 4))
                if tokens[j] in DISTANCE_WORDS
            )
            r.note("goal_distance", round(q.mm, 1), " ".join(tokens[q.start : q.end + 3]))
            _stretch(modules, payload, q.mm)
        elif set(tokens[max(0, q.start - 3) : q.start]) & {"from"} and around & {
            "dropped",
            "drop",
            "falls",
            "released",
        }:
            q.used = True
            r.note("start_height", round(q.mm, 1), " ".join(tokens[max(0, q.start - 2) : q.end]))
        elif around & UP_WORDS:
            q.used = True
            modules.insert(_before_goal(modules), {"type": "step_up", "height": round(q.mm, 1)})
            r.note("step_up.height", round(q.mm, 1), " ".join(tokens[q.start : q.end + 2]))
        elif around & DOWN_WORDS:
            q.used = True
            modules.insert(_before_goal(modules), {"type": "step_down", "height": round(q.mm, 1)})
            r.note("step_down.height", round(q.mm, 1), " ".join(tokens[q.start : q.end + 2]))
    # number the modules the notes named "m?" now that the order is known
    for key in [k for k in r.understood if k.startswith("m?.")]:
        r.understood[key.replace("m?", "module")] = r.understood.pop(key)
    for key in [k for k in r.understood if k.startswith("m") and k[1:2].isdigit()]:
        r.understood.pop(key)


def _before_goal(modules: list[dict[str, Any]]) -> int:
    return len(modules) - 1 if modules and modules[-1]["type"] in ("bin", "cup") else len(modules)


def _stretch(modules: list[dict[str, Any]], payload: dict[str, Any], distance: float) -> None:
    """A platform before the goal sized so that the goal's centre lies `distance` beyond the
    payload's start (in x)."""
    if not modules or modules[-1]["type"] not in ("bin", "cup"):
        modules.append({"type": "bin"})
    spec = parse_spec({"payload": payload, "modules": modules})
    goal = spec.modules[-1]
    reach = 60.0 + (goal.width / 2 if goal.type == "bin" else goal.radius)  # type: ignore[union-attr]
    between = sum(_length(m) for m in spec.modules[:-1])
    filler = distance - (START_PAD - START_X) - between - reach
    if filler >= 120.0:
        modules.insert(len(modules) - 1, {"type": "platform", "length": round(filler, 1)})
    elif goal.type == "cup":
        radius = distance - (START_PAD - START_X) - between - 60.0
        modules[-1]["radius"] = round(min(max(radius, 60.0), 200.0), 1)
    elif goal.type == "bin" and filler > -60.0:
        modules[-1]["width"] = round(max(goal.width + 2 * filler, 120.0), 1)  # type: ignore[union-attr]


def _length(module: Any) -> float:
    data = module.model_dump()
    kind = data["type"]
    if kind == "gap":
        return data["width"]
    if kind == "stairs":
        return data["steps"] * data["step_depth"]
    return data.get("length", 0.0)


def _ignored(r: _Reading) -> list[str]:
    used = set(r.used)
    for q in r.quantities:
        if q.used:
            used.update(range(q.start, q.end))
    ignored = []
    for i, word in enumerate(r.tokens):
        if i in used or word in STOP_WORDS or word == "-" or re.fullmatch(r"[\d.]+", word):
            continue
        if singular(word) in ELEMENTS or word in MATERIAL_WORDS or singular(word) in PAYLOAD_NOUNS:
            continue
        ignored.append(word)
    ignored += [f"{q.words} (not placed)" for q in r.quantities if not q.used]
    return list(dict.fromkeys(ignored))
