"""``algoperf-like leaderboard`` end to end: a baseline is accepted, a cheat rejected, bad input
refused; and the scoring against the committed example leaderboard.

``tests/data/leaderboard/`` is a leaderboard directory as the command reads it: the logs of
``algoperf-like suite --quick --workload=mnist1d --submissions=adamw,momentum --num_studies=1``
(momentum reached the mnist1d target in 33 s, adamw did not), checkpoints and TensorBoard
files left out.
"""

import dataclasses
import json
import os
import shutil

import pytest

from algoperf_like import cli, trial_logs
from algoperf_like import leaderboard as lb

HERE = os.path.dirname(os.path.abspath(__file__))
LEADERBOARD = os.path.join(HERE, 'data', 'leaderboard')
ADVERSARIAL = os.path.join(HERE, 'data', 'adversarial')
FAST = ['--workload=mnist1d', '--max_global_steps=100', '--eval_every_steps=50']


def _read(out):
  with open(os.path.join(out, lb.COMMENT_FILE)) as f:
    comment = f.read()
  with open(os.path.join(out, lb.SUMMARY_FILE)) as f:
    return comment, json.load(f)


@pytest.mark.slow
def test_a_baseline_is_accepted_and_ranked(tmp_path, data_dir, monkeypatch, capsys):
  monkeypatch.setenv('GITHUB_SERVER_URL', 'https://github.example')
  monkeypatch.setenv('GITHUB_REPOSITORY', 'org/board')
  monkeypatch.setenv('GITHUB_RUN_ID', '42')
  out = str(tmp_path / 'report')
  rc = cli.main(
    [
      'leaderboard',
      '--submission_path=nadamw',
      f'--leaderboard_dir={LEADERBOARD}',
      f'--output_dir={out}',
      f'--data_dir={data_dir}',
      '--bootstrap_samples=100',
      *FAST,
    ]
  )
  assert rc == 0, capsys.readouterr().err
  comment, summary = _read(out)
  first = comment.splitlines()[0]
  assert first.startswith('**Verdict: accepted**: `nadamw` ranks ')
  assert summary['verdict'] == 'accepted' and summary['exit_code'] == 0
  assert f'ranks {summary["rank"]} of 3 ' in first
  assert {r['submission'] for r in summary['leaderboard']} == {'adamw', 'momentum', 'nadamw'}
  assert summary['leaderboard_entries'] == ['adamw', 'momentum']
  assert [
    (d['submission'], d['change']) for d in summary['diff'] if d['change'] != 'unchanged'
  ] == [('nadamw', 'new')]
  # The per-workload table: this trial ran 100 steps (the cap), momentum is the best entry.
  assert '### Time to target per workload' in comment
  row = next(line for line in comment.splitlines() if line.startswith('| `mnist1d` |'))
  assert 'error_rate ↓ 0.0105' in row and '(momentum)' in row
  (trial,) = summary['trials']
  assert trial['status'] in row and trial['global_step'] <= 100
  (ttt,) = summary['time_to_target']
  assert ttt['best_entry'] == 'momentum' and ttt['statuses'] == [trial['status']]
  assert all(r['status'] == 'PASS' for r in summary['checks'])
  assert summary['findings'] == []
  assert 'in the bubblewrap sandbox' in comment  # The command's default.
  assert trial_logs.read_summary(os.path.join(out, trial['log_dir']))['sandboxed']
  assert 'https://github.example/org/board/actions/runs/42' in comment
  for rel in summary['paths'].values():  # Every linked artifact exists.
    assert os.path.exists(os.path.join(out, rel)), rel
  assert f'`{summary["paths"]["logs"]}`' in comment
  assert os.path.isfile(os.path.join(out, trial['log_dir'], 'eval_measurements.csv'))


def test_a_rule_breaking_submission_is_rejected_with_the_rule_named(tmp_path, capsys):
  submission = tmp_path / 'sneaky'
  shutil.copytree(os.path.join(ADVERSARIAL, 'processes'), submission)
  out = str(tmp_path / 'report')
  rc = cli.main(
    [
      'leaderboard',
      f'--submission_path={submission}',
      f'--leaderboard_dir={LEADERBOARD}',
      f'--output_dir={out}',
      *FAST,
    ]
  )
  assert rc == 1
  comment, summary = _read(out)
  first = comment.splitlines()[0]
  assert first.startswith('**Verdict: rejected**') and '`sneaky`' in first and 'processes' in first
  assert '| `processes` | FAIL |' in comment
  found = [f for f in summary['findings'] if f['rule'] == 'processes']
  assert found and all(f['path'] == 'submission.py' and f['line'] for f in found)
  for f in found:
    assert f'- `processes`: `submission.py:{f["line"]}: {f["message"]}`' in comment
  assert summary['verdict'] == 'rejected' and summary['exit_code'] == 1
  assert summary['trials'] == [] and summary['scores'] is None
  assert not os.path.exists(os.path.join(out, lb.EXPERIMENTS_DIR))  # Nothing ran.
  assert 'rejected' in capsys.readouterr().err


@pytest.mark.parametrize(
  'flags, message',
  [
    (['--submission_path=/nonexistent/sub'], 'no such folder'),
    ([f'--submission_path={ADVERSARIAL}/api', '--leaderboard_dir=/nonexistent'], 'no such folder'),
    ([f'--submission_path={ADVERSARIAL}/api', '--workload=nope'], 'nope'),
    ([f'--submission_path={ADVERSARIAL}/api', '--workload=mnist'], 'no scoring target'),
    (['--leaderboard_dir=x'], 'submission_path'),
  ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, flags, message):
  out = tmp_path / 'report'
  argv = ['leaderboard', f'--output_dir={out}', f'--leaderboard_dir={LEADERBOARD}'] + flags
  assert cli.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and message in err, err
  assert not out.exists()


def test_a_nonempty_output_dir_needs_overwrite(tmp_path, capsys):
  out = tmp_path / 'report'
  out.mkdir()
  (out / 'old.txt').write_text('earlier run')
  argv = [
    'leaderboard',
    f'--submission_path={ADVERSARIAL}/api',
    f'--leaderboard_dir={LEADERBOARD}',
    f'--output_dir={out}',
  ]
  assert cli.main(argv) == 2
  assert 'not empty' in capsys.readouterr().err
  assert (out / 'old.txt').exists()


def _options(tmp_path, **kw):
  return lb.Options(
    submission_dir=str(tmp_path / 'adamw'),
    leaderboard_dir=LEADERBOARD,
    output_dir=str(tmp_path / 'report'),
    workloads=['mnist1d'],
    bootstrap_samples=50,
    **kw,
  )


def test_an_entry_of_the_same_name_is_replaced_and_the_diff_says_so(tmp_path):
  """A pull request that changes ``adamw``: its new logs (here: momentum's) replace the entry."""
  options = _options(tmp_path)
  outcome = lb.Outcome(options, 'adamw')
  shutil.copytree(
    os.path.join(LEADERBOARD, 'momentum'), os.path.join(options.output_dir, 'experiments', 'adamw')
  )
  lb._score_with_leaderboard(options, outcome)
  changes = outcome.diff.set_index('submission')
  assert changes.loc['adamw', 'change'] == 'changed'
  assert changes.loc['adamw', 'score_before'] == 0 and changes.loc['adamw', 'score_after'] == 1
  # momentum keeps its score; the tie at 1.0 breaks by name, so it moves to rank 2.
  assert changes.loc['momentum', 'score_delta'] == 0 and changes.loc['momentum', 'rank_after'] == 2
  assert '| adamw | changed | 0.0000 | 1.0000 | +1.0000 | 2 → 1 |' in outcome.diff_markdown
  assert os.path.isfile(os.path.join(options.output_dir, 'scores_before', 'scores.csv'))
  assert os.path.isfile(os.path.join(options.output_dir, 'scores', 'diff.md'))


def test_an_empty_leaderboard_makes_the_first_entry(tmp_path):
  empty = tmp_path / 'board'
  empty.mkdir()
  options = dataclasses.replace(_options(tmp_path), leaderboard_dir=str(empty))
  outcome = lb.Outcome(options, 'first')
  shutil.copytree(
    os.path.join(LEADERBOARD, 'momentum'), os.path.join(options.output_dir, 'experiments', 'first')
  )
  lb._score_with_leaderboard(options, outcome)
  assert list(outcome.scores.scores['submission']) == ['first']
  assert list(outcome.diff['change']) == ['new']
  assert not os.path.exists(os.path.join(options.output_dir, 'scores_before'))


def test_a_rule_broken_while_training_rejects(tmp_path, monkeypatch):
  """A trial that ends ``rule_violation`` (the runner's guard) rejects, naming the reason."""
  from algoperf_like import checker, registry
  from algoperf_like.checker import CheckResult, Report

  submission = tmp_path / 'adamw'
  shutil.copytree(registry.submission_folder('adamw'), submission)
  passed = Report(str(submission), 'external', [CheckResult('api', 'PASS')])
  monkeypatch.setattr(checker, 'check_submission', lambda *a, **k: passed)
  reason = 'wrote workload._param_shapes (submission.py:12)'
  record = {
    'workload': 'mnist1d',
    'study': 0,
    'trial': 1,
    'status': 'rule_violation',
    'error': reason,
    'global_step': 3,
    'hyperparameters': {},
    'log_dir': 'experiments/adamw/study_0/mnist1d_jax/trial_1',
  }
  monkeypatch.setattr(lb, '_run_trials', lambda options, trials: [record])
  outcome = lb.evaluate(_options(tmp_path))
  assert outcome.exit_code == 1
  comment, summary = _read(outcome.options.output_dir)
  assert comment.startswith('**Verdict: rejected** (a rule was broken while training: mnist1d: ')
  assert reason in comment.splitlines()[0] and f'- `mnist1d` trial 1: {reason}' in comment
  assert summary['findings'][-1]['rule'] == 'rule_violation'
  assert summary['findings'][-1]['message'] == reason


def test_a_harness_failure_is_exit_2_with_a_comment(tmp_path, monkeypatch):
  from algoperf_like import checker

  shutil.copytree(os.path.join(ADVERSARIAL, 'api'), tmp_path / 'adamw')

  def broken(*a, **k):
    raise OSError('disk full')

  monkeypatch.setattr(checker, 'check_submission', broken)
  outcome = lb.evaluate(_options(tmp_path))
  assert outcome.exit_code == 2
  comment, summary = _read(outcome.options.output_dir)
  assert comment.startswith('**Verdict: error**') and 'OSError: disk full' in comment
  assert summary['verdict'] == 'error' and summary['exit_code'] == 2


def test_run_url_needs_all_three_variables():
  from algoperf_like.cli.leaderboard import run_url

  env = {'GITHUB_SERVER_URL': 'https://github.com/', 'GITHUB_REPOSITORY': 'a/b'}
  assert run_url(env) is None
  assert run_url({**env, 'GITHUB_RUN_ID': '7'}) == 'https://github.com/a/b/actions/runs/7'


@pytest.mark.parametrize(
  'full, trials, expected',
  [(False, None, 1), (True, None, 5), (True, 3, 3), (False, 2, 2)],
)
def test_quick_runs_the_first_point_and_full_tunes(tmp_path, full, trials, expected):
  from algoperf_like import registry, search_space

  folder = registry.submission_folder('nadamw')
  options = dataclasses.replace(
    _options(tmp_path), submission_dir=folder, full=full, num_tuning_trials=trials
  )
  options.workloads = ['mnist1d', 'ogbg_motifs']
  plan = lb.plan(options, 'nadamw')
  assert [(t.workload, t.trial) for t in plan] == [
    (w, k) for w in options.workloads for k in range(1, expected + 1)
  ]
  space = search_space.load_search_space(os.path.join(folder, 'tuning_search_space.json'))
  first = search_space.quasirandom_points(space, 1)[0]
  if expected == 1:  # Quick: the submission's own first point (not an oracle's).
    assert all(t.hyperparameters == first for t in plan)
  else:  # Distinct points of its space, drawn as `run` draws them.
    assert len({json.dumps(t.hyperparameters, sort_keys=True) for t in plan[:expected]}) == expected
  assert all(
    t.log_dir.startswith(os.path.join(options.output_dir, 'experiments', 'nadamw')) for t in plan
  )


def test_a_submission_without_evaluations_is_an_error_not_a_rank(tmp_path):
  options = _options(tmp_path)
  outcome = lb.Outcome(options, 'adamw2')
  outcome.trials = [{'workload': 'mnist1d', 'status': 'failed', 'error': 'ValueError: boom'}]
  with pytest.raises(RuntimeError, match='no evaluation of adamw2 to score .mnist1d: ValueError'):
    lb._score_with_leaderboard(options, outcome)
  assert outcome.scores is None
