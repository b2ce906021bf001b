"""dvc.yaml read as DVC 3 reads it: stages, paths, params, outputs, vars, `${}`, foreach and matrix.

Parsing is tested on the core (`read_pipeline`) with projects built by `gen`; a foreach/matrix
pipeline is then reproduced through the real CLI, and one test asks DVC 3.67.1 itself to read
the same dvc.yaml and compares every stage.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pyhelper.core.pipeline import interpolation
from pyhelper.core.pipeline.dvcfile import read_pipeline
from pyhelper.core.pipeline.stage import Out, ParamsDep, Stage
from pyhelper.errors import PipelineError
from tests.conftest import GIT_ENV

ROOT = Path(__file__).resolve().parents[1]


def stages(gen, files: dict[str, str]) -> dict[str, Stage]:
    """The stages xp reads from a project holding these files."""
    return read_pipeline(gen(files, commit=False)).stages


# -- plain stages ---------------------------------------------------------------------------


def test_a_stage_with_everything_dvc_3_allows(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          train:
            desc: Train the model
            cmd: python train.py --epochs 3
            deps:
              - train.py
              - data/
            params:
              - train.lr
              - train.epochs
              - conf/model.yaml:
                  - layers
              - conf/opt.toml:
              - train.lr
            outs:
              - model.pkl
              - cache/:
                  cache: false
                  persist: true
            metrics:
              - metrics.json:
                  cache: false
            plots:
              - plots/loss.csv:
                  x: step
                  y: loss
                  template: linear
                  title: Loss
            meta:
              owner: me
    """})

    assert list(found) == ["train"]
    train = found["train"]
    assert train.cmd == "python train.py --epochs 3" and train.commands == ("python train.py --epochs 3",)
    assert train.wdir == "."
    assert train.deps == ("train.py", "data/")
    assert train.params == (
        ParamsDep("params.yaml", ("train.lr", "train.epochs")),  # A repeated key is read once.
        ParamsDep("conf/model.yaml", ("layers",)),
        ParamsDep("conf/opt.toml", ()),  # `file:` alone: the whole file.
    )
    assert train.outs == (
        Out("model.pkl", "outs"),
        Out("cache/", "outs", cache=False, persist=True),
        Out("metrics.json", "metrics", cache=False),
        Out("plots/loss.csv", "plots", plot={"x": "step", "y": "loss", "template": "linear", "title": "Loss"}),
    )
    assert not train.frozen and not train.always_changed


def test_cmd_may_be_a_list_run_in_order(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          prepare:
            cmd:
              - mkdir -p data
              - python prepare.py
    """})

    assert found["prepare"].cmd == ("mkdir -p data", "python prepare.py")
    assert found["prepare"].commands == ("mkdir -p data", "python prepare.py")


def test_paths_are_relative_to_wdir(gen) -> None:
    train = stages(gen, {"dvc.yaml": """
        stages:
          train:
            cmd: python train.py
            wdir: src/./models
            deps:
              - train.py
              - ../../data/raw.csv
            params:
              - lr
            outs:
              - ../../model.pkl
    """})["train"]

    assert train.wdir == "src/models"
    assert train.deps == ("train.py", "../../data/raw.csv")  # As written, like dvc.lock keeps them.
    assert [train.repo_path(d) for d in train.deps] == ["src/models/train.py", "data/raw.csv"]
    assert train.repo_path(train.outs[0].path) == "model.pkl"
    assert train.repo_path(train.params[0].file) == "src/models/params.yaml"  # DVC reads params in wdir.


def test_always_changed_and_frozen(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          fetch:
            cmd: curl -o data.csv https://example.invalid/data.csv
            always_changed: true
            outs: [data.csv]
          old:
            cmd: echo
            frozen: true
    """})

    assert found["fetch"].always_changed and not found["fetch"].frozen
    assert found["old"].frozen and not found["old"].always_changed


def test_top_level_sections_and_an_empty_file(gen) -> None:
    repo = gen({"dvc.yaml": """
        params:
          - conf/extra.yaml
        metrics:
          - reports/./scores.json
        plots:
          - plots/roc.json
        stages:
          a:
            cmd: echo
    """}, commit=False)

    pipeline = read_pipeline(repo)
    assert pipeline.params == ("conf/extra.yaml",)
    assert pipeline.metrics == ("reports/scores.json",)
    assert pipeline.plots == ("plots/roc.json",)

    (repo / "dvc.yaml").write_text("# nothing yet\n")
    assert read_pipeline(repo).stages == {}
    (repo / "dvc.yaml").unlink()
    assert read_pipeline(repo).stages == {}


# -- vars and interpolation -----------------------------------------------------------------


def test_vars_inline_from_files_and_per_stage(gen) -> None:
    found = stages(gen, {
        "params.yaml": "train:\n  lr: 0.1\n  epochs: 10\nseed: 1\n",
        "conf/data.yaml": "split: 0.2\nbatch: 32\nsecret: hidden\nnested:\n  deep: 7\n",
        "src/local.yaml": "name: from-wdir\n",
        "dvc.yaml": """
            vars:
              - conf/data.yaml:split,batch,nested.deep
              - seed: 42
                model: cnn
            stages:
              train:
                cmd: python train.py ${train.lr} ${seed} ${model} ${split} ${batch} ${nested.deep}
              local:
                vars:
                  - model: rnn
                  - local.yaml
                wdir: src
                cmd: echo ${model} ${name}
        """,
    })

    # params.yaml is loaded first; `vars` entries override it, in order.
    assert found["train"].cmd == "python train.py 0.1 42 cnn 0.2 32 7"
    # Stage vars override global ones; their files are relative to the stage's wdir.
    assert found["local"].cmd == "echo rnn from-wdir"


def test_vars_from_a_file_with_keys_load_only_those_keys(gen) -> None:
    repo = gen({
        "conf/data.yaml": "split: 0.2\nsecret: hidden\n",
        "dvc.yaml": "vars:\n  - conf/data.yaml:split\nstages:\n  a:\n    cmd: echo ${secret}\n",
    }, commit=False)

    with pytest.raises(PipelineError) as caught:
        read_pipeline(repo)

    assert "'${secret}' is not defined" in caught.value.message and caught.value.line == 5


def test_whole_string_interpolation_keeps_the_type(gen) -> None:
    found = stages(gen, {
        "params.yaml": "flags:\n  freeze: true\nsteps:\n  - python a.py\n  - python b.py\n"
                       "inputs: [a.csv, b.csv]\nmodels:\n  - name: cnn\n    size: 3\n",
        "dvc.yaml": """
            stages:
              typed:
                cmd: ${steps}
                deps: ${inputs}
                frozen: ${flags.freeze}
              text:
                cmd: echo ${models[0].name} ${models.0.size} ${flags.freeze} ${inputs[1]}
        """,
    })

    assert found["typed"].cmd == ("python a.py", "python b.py")  # A list stays a list.
    assert found["typed"].deps == ("a.csv", "b.csv")
    assert found["typed"].frozen is True  # A boolean stays a boolean.
    assert found["text"].cmd == "echo cnn 3 true b.csv"  # Inside text: `true`, as DVC writes it.


def test_escaped_dollar_brace_is_literal(gen) -> None:
    found = stages(gen, {"dvc.yaml": r"""
        vars:
          - name: x
        stages:
          env:
            cmd: echo \${HOME} ${name} "\${name}"
          only_escaped:
            cmd: echo \${USER}
    """})

    assert found["env"].cmd == 'echo ${HOME} x "${name}"'
    assert found["only_escaped"].cmd == "echo ${USER}"


def test_interpolation_on_its_own() -> None:
    context = {"a": {"b": 1.5}, "l": [10, {"x": "y"}], "t": True, "s": "text"}

    assert interpolation.resolve("${a.b}", context) == 1.5
    assert interpolation.resolve("${ l }", context) == [10, {"x": "y"}]
    assert interpolation.resolve("${l[1].x}-${l.0}-${t}", context) == "y-10-true"
    assert interpolation.resolve({"${s}": ["${a}"]}, context) == {"text": [{"b": 1.5}]}
    assert interpolation.resolve(r"\${a.b} ${a.b}", context) == "${a.b} 1.5"
    with pytest.raises(interpolation.Undefined) as undefined:
        interpolation.resolve("x ${a.c}", context)
    assert undefined.value.name == "a.c"
    with pytest.raises(interpolation.NotText):
        interpolation.resolve("x ${a}", context)
    with pytest.raises(interpolation.Undefined):
        interpolation.resolve("${l[5]}", context)


# -- foreach and matrix ---------------------------------------------------------------------


def test_foreach_over_a_list_names_stages_by_item(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        vars:
          - sizes: [small, large]
        stages:
          build:
            foreach: ${sizes}
            do:
              cmd: python build.py ${item}
              outs:
                - models/${item}.bin
    """})

    assert list(found) == ["build@small", "build@large"]
    assert found["build@large"].cmd == "python build.py large"
    assert found["build@large"].outs == (Out("models/large.bin", "outs"),)


def test_foreach_over_a_mapping_gives_key_and_item(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          region:
            foreach:
              us: {rows: 10, flag: true}
              eu: {rows: 20, flag: false}
            do:
              cmd: python load.py ${key} --rows ${item.rows} --flag ${item.flag}
              outs: ["data/${key}.csv"]
    """})

    assert list(found) == ["region@us", "region@eu"]
    assert found["region@eu"].cmd == "python load.py eu --rows 20 --flag false"
    assert found["region@us"].outs == (Out("data/us.csv", "outs"),)


def test_foreach_over_a_list_of_mappings_names_stages_by_index(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          seed:
            foreach:
              - {seed: 1, tag: a}
              - {seed: 7, tag: b}
            do:
              cmd: python train.py --seed ${item.seed}
              outs: ["model-${item.tag}.pkl"]
    """})

    assert list(found) == ["seed@0", "seed@1"]
    assert found["seed@1"].cmd == "python train.py --seed 7"
    assert found["seed@1"].outs == (Out("model-b.pkl", "outs"),)


def test_foreach_do_may_have_its_own_vars(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        stages:
          build:
            foreach: [a, b]
            do:
              vars:
                - suffix: bin
              cmd: echo ${item}.${suffix}
    """})

    assert [s.cmd for s in found.values()] == ["echo a.bin", "echo b.bin"]


def test_matrix_makes_every_combination(gen) -> None:
    found = stages(gen, {"dvc.yaml": """
        vars:
          - models: [cnn, rnn]
        stages:
          train:
            matrix:
              model: ${models}
              metric: [f1, auc]
              opts: [{lr: 0.1}]
            cmd: python train.py ${item.model} ${item.metric} ${item.opts.lr} ${key}
            outs:
              - models/${item.model}-${item.metric}.pkl
    """})

    assert list(found) == [
        "train@cnn-f1-opts0", "train@cnn-auc-opts0", "train@rnn-f1-opts0", "train@rnn-auc-opts0",
    ]
    assert found["train@rnn-auc-opts0"].cmd == "python train.py rnn auc 0.1 rnn-auc-opts0"
    assert found["train@cnn-f1-opts0"].outs == (Out("models/cnn-f1.pkl", "outs"),)


def test_generated_names_match_dvc_for_booleans_and_numbers(gen) -> None:
    """DVC 3.67 writes `str()` of a foreach item but `true` for a matrix value."""
    found = stages(gen, {"dvc.yaml": """
        stages:
          flag:
            foreach: [true, 0.5]
            do:
              cmd: echo ${item}
          grid:
            matrix:
              on: [true]
              n: [1]
            cmd: echo ${item.on}
    """})

    assert list(found) == ["flag@True", "flag@0.5", "grid@true-1"]
    assert found["flag@True"].cmd == "echo true"


@pytest.fixture(scope="module")
def dvc_python() -> str:
    """The Python of DVC 3.67.1's own venv (scripts/dvc-venv.sh installs it on first use)."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "dvc-venv.sh")], capture_output=True, text=True)
    assert result.returncode == 0, f"installing DVC failed:\n{result.stderr}"
    return str(Path(result.stdout.strip().splitlines()[-1]).parent / "python")



@pytest.mark.dvc
def test_same_stage_as_dvc_itself(gen, dvc_python: str) -> None:
    """DVC 3.67.1 reads the same dvc.yaml into the same stages (names, commands, paths, options)."""
    repo = gen({
        "params.yaml": "split: [0.8, 0.2]\n",
        "conf/extra.yaml": "seeds: [1, 2]\nopt:\n  name: adam\n",
        "conf/model.toml": "a = 1\n",
        "dvc.yaml": DVC_COMPARED,
    })
    script = (
        "import json, os\n"
        "from dvc.repo import Repo\n"
        "from dvc.dependency.param import ParamsDependency\n"
        "Repo.init('.')\n"
        "out = {}\n"
        "for s in Repo('.').index.stages:\n"
        "    deps = [d.def_path for d in s.deps if not isinstance(d, ParamsDependency)]\n"
        "    params = {d.def_path: sorted(d.params or []) for d in s.deps if isinstance(d, ParamsDependency)}\n"
        "    outs = [[o.def_path, 'metrics' if o.metric else 'plots' if o.plot else 'outs', o.use_cache, o.persist]\n"
        "            for o in s.outs]\n"
        "    out[s.addressing] = {'cmd': s.cmd, 'wdir': os.path.relpath(s.wdir, '.'), 'deps': deps,\n"
        "        'params': params, 'outs': outs, 'frozen': s.frozen, 'always_changed': s.always_changed}\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([dvc_python, "-c", script], cwd=repo, capture_output=True, text=True,
                            env={**os.environ, **GIT_ENV, "DVC_NO_ANALYTICS": "1"})
    assert result.returncode == 0, result.stderr
    by_dvc = json.loads(result.stdout.strip().splitlines()[-1])

    by_xp = {
        s.name: {
            "cmd": list(s.cmd) if isinstance(s.cmd, tuple) else s.cmd, "wdir": s.wdir, "deps": list(s.deps),
            "params": {p.file: sorted(p.keys) for p in s.params},
            "outs": [[o.path, o.kind, o.cache, o.persist] for o in s.outs],
            "frozen": s.frozen, "always_changed": s.always_changed,
        }
        for s in read_pipeline(repo).stages.values()
    }
    assert list(by_xp) == list(by_dvc)
    assert by_xp == by_dvc


DVC_COMPARED = r"""
vars:
  - sizes: [small, large]
    regions:
      us: {n: 1}
      eu: {n: 2}
  - conf/extra.yaml:seeds,opt
stages:
  prepare:
    cmd:
      - python prepare.py --split ${split[0]}
      - echo done \${HOME}
    deps:
      - prepare.py
    params:
      - split
      - conf/extra.yaml:
          - opt.name
    outs:
      - data/prepared
  build:
    foreach: ${sizes}
    do:
      cmd: python build.py ${item} ${opt.name}
      deps: [data/prepared]
      outs:
        - models/${item}.bin:
            cache: false
  region:
    foreach: ${regions}
    do:
      cmd: echo ${key} ${item.n}
      outs: ["reports/${key}.txt"]
  seed:
    foreach:
      - {s: 1, f: a}
      - {s: 2, f: b}
    do:
      cmd: echo ${item.s}
      outs: ["seed-${item.f}.txt"]
  train:
    matrix:
      size: ${sizes}
      seed: ${seeds}
      flag: [true]
    cmd: python train.py ${item.size} ${item.seed} ${key}
    wdir: src
    params:
      - ../conf/model.toml:
    metrics:
      - ../metrics/${item.size}-${item.seed}.json:
          cache: false
    plots:
      - ../plots/${item.size}-${item.seed}.csv:
          x: step
          y: loss
          template: linear
    outs:
      - ../ckpt/${key}:
          persist: true
  report:
    cmd: echo report
    always_changed: true
    frozen: true
"""


# -- through the CLI ------------------------------------------------------------------------


WRITE = "python -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\""


def test_foreach_and_matrix_pipelines_reproduce_then_skip(gen, xp) -> None:
    repo = gen({
        "params.yaml": "sizes: [small, large]\n",
        "dvc.yaml": f"""
            stages:
              build:
                foreach: ${{sizes}}
                do:
                  cmd: {WRITE} ${{item}}.txt built-${{item}}
                  outs:
                    - ${{item}}.txt
              train:
                matrix:
                  size: ${{sizes}}
                  seed: [1, 2]
                cmd: {WRITE} model-${{key}}.txt ${{item.size}}-${{item.seed}}
                deps:
                  - ${{item.size}}.txt
                outs:
                  - model-${{key}}.txt
        """,
    })

    first = xp("repro", cwd=repo)

    generated = ["build@small", "build@large", "train@small-1", "train@small-2", "train@large-1", "train@large-2"]
    for name in generated:
        assert f"Running stage '{name}'" in first.stdout, first.stdout
    assert (repo / "large.txt").read_text() == "built-large"
    assert (repo / "model-small-2.txt").read_text() == "small-2"
    assert _lock_stages(repo) == sorted(generated)

    second = xp("repro", cwd=repo)

    assert "Running" not in second.stdout
    for name in generated:
        assert f"Stage '{name}' didn't change, skipping" in second.stdout
    assert "Data and pipelines are up to date." in second.stdout

    (repo / "params.yaml").write_text("sizes: [small, large, huge]\n")
    third = xp("repro", cwd=repo)

    assert "Running stage 'build@huge'" in third.stdout and "Running stage 'train@huge-2'" in third.stdout
    assert "Running stage 'build@small'" not in third.stdout


def test_a_stage_runs_in_its_wdir(gen, xp) -> None:
    repo = gen({
        "src/in.txt": "hello",
        "dvc.yaml": "stages:\n  copy:\n    wdir: src\n    cmd: cp in.txt ../out.txt\n"
                    "    deps: [in.txt]\n    outs: [../out.txt]\n",
    })

    xp("repro", cwd=repo)

    assert (repo / "out.txt").read_text() == "hello"
    assert "Data and pipelines are up to date." in xp("status", cwd=repo).stdout


def _lock_stages(repo: Path) -> list[str]:
    """Stage names recorded in dvc.lock, sorted."""
    from pyhelper.core.pipeline.lockfile import read_lock

    return sorted(read_lock(repo / "dvc.lock"))
