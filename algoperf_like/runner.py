"""Run one trial: a submission trains a workload until the target, the budget or a stop.

The loop, top to bottom:

1. set-up (untimed): keys, input pipeline, model and optimizer initialisation;
2. timed loop: ``data_selection`` + ``update_params`` per step, no device sync
   between evaluations, so JAX's dispatch pipeline stays full;
3. at an eval boundary: wait for the device, read the clock (submission time
   ends here), ``prepare_for_eval`` (timed), evaluation (untimed), logging
   (untimed);
4. checkpoint (untimed), so a killed trial resumes from its last evaluation;
5. stop when the validation target is reached, the submission raises
   ``TrainingCompleteError``, ``max_global_steps`` is hit, or the budget is spent.

Between evaluations, scheduling uses unsynchronised clock readings; they trail
the device by at most the backend's queue of in-flight computations.

Clock readings are chained: each boundary reading ends one category and
starts the next, so the time account adds up to the trial's wall clock.
The runner knows nothing about particular workloads or submissions.

The submission never sees the real workload or input queue: it gets guarded views
(:mod:`algoperf_like.guard`), and :mod:`algoperf_like.integrity` compares what it may not
change after each of its calls (the clock, ``jax.config``, the harness, the workload,
threads and processes). A :class:`~algoperf_like.guard.RuleViolation` ends the trial as
``rule_violation``; the checks' time is the account's ``integrity``, not submission time.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import traceback
import types
from typing import Any, Callable, Dict, List, Optional

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_like import compat, compile_time, environment, jax_sharding_utils, spec, trial_logs
from algoperf_like.checkpoints import TrialCheckpointer
from algoperf_like.clock import Clock, TimeAccount
from algoperf_like.compat import pmap
from algoperf_like.guard import Guard, RuleViolation
from algoperf_like.integrity import Integrity
from algoperf_like.profiler import Profiler
from algoperf_like.rng import StepKeys
from algoperf_like.submission import Submission, checked_batch_size, resolve_batch_size


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """Settings of one trial that are not the workload, submission or seed.

  Attributes:
    data_dir: TFDS data directory of the workload.
    imagenet_v2_data_dir: where the ImageNet workloads read their test split (ImageNet-v2);
      None: from ``data_dir``.
    tuning_ruleset: 'external' or 'self' (self-tuning gets 1.5x the budget).
    max_global_steps: stop after this many steps (None: no limit).
    eval_every_steps: evaluate every N steps instead of every
      ``eval_period_time_sec`` seconds (deterministic schedule, for
      reproducibility tests; not for scoring).
    max_runtime_sec: override the workload's budget (before the 1.5x factor).
    stop_at_target: stop at the first eval that reaches the validation target.
    save_checkpoints: checkpoint at evaluations (needs a log_dir).
    checkpoint_period_sec: checkpoint at an evaluation only when at least this many
      wall-clock seconds have passed since the last checkpoint (0: at every one). An
      interrupted trial loses at most this much work; short CPU trials save the
      checkpoint writes (tens of ms each), which are not submission time but are wall time.
    resume: continue from the trial's latest checkpoint when there is one.
    submission_api: force AlgoPerf's 'jit' or 'pmap' API (None: as detected from the
      submission's source, ``Submission.api``).
    algoperf_version: force the AlgoPerf version the submission sees, '0.5' (restores JAX
      names removed since) or '0.6' (None: as detected, ``Submission.algoperf_version``).
    capture_jax_trace_steps: record a ``jax.profiler`` trace of this many steps, from
      step ``TRACE_FIRST_STEP`` (after compilation), into ``{log_dir}/jax_trace/`` (0: no
      trace; needs a log_dir). Its device syncs count as submission time: profile, don't score.
    wandb_mode: also log every row to Weights & Biases in this mode ('offline': files in
      ``{log_dir}/wandb/``, no network; 'online'); None: no W&B.
    skip_evals: evaluate only when the trial ends (max_global_steps, the budget, or the
      submission's ``TrainingCompleteError``), not on the schedule: time to target is
      then only seen at that one evaluation (AlgoPerf's ``--skip_evals``; not for scoring).
    save_intermediate_checkpoints: keep every checkpoint (``checkpoints/step_N/``), not
      only the latest (AlgoPerf's ``--save_intermediate_checkpoints``).
    profile: record the time of each phase (:mod:`algoperf_like.profiler`), written to
      ``{log_dir}/profile.txt`` and ``profile.json`` and printed to stderr at the end.
  """

  data_dir: Optional[str] = None
  imagenet_v2_data_dir: Optional[str] = None
  tuning_ruleset: str = 'external'
  max_global_steps: Optional[int] = None
  eval_every_steps: Optional[int] = None
  max_runtime_sec: Optional[float] = None
  stop_at_target: bool = True
  save_checkpoints: bool = True
  checkpoint_period_sec: float = 0.0
  resume: bool = False
  submission_api: Optional[str] = None
  algoperf_version: Optional[str] = None
  capture_jax_trace_steps: int = 0
  wandb_mode: Optional[str] = None
  skip_evals: bool = False
  save_intermediate_checkpoints: bool = False
  profile: bool = False


@dataclasses.dataclass
class TrialResult:
  """What a trial ends with (also written to ``trial_summary.json``)."""

  status: str  # target_reached | budget_exhausted | max_steps | training_complete | failed
  #              | rule_violation (error: what and where) | interrupted: Ctrl-C, no summary
  time_to_target: Optional[float]
  global_step: int
  accumulated_submission_time: float
  rng_seed: int
  log_dir: Optional[str]
  timing: Dict[str, float]
  wall_clock_s: float
  timing_adds_up: bool
  eval_results: List[Dict[str, Any]] = dataclasses.field(repr=False, default_factory=list)
  error: Optional[str] = None
  prepare_for_eval_calls: int = 0  # In this attempt (since the last resume).
  compile_time: Optional[Dict[str, Any]] = None  # compile_time.CompileLog.summary().

  def summary(self) -> Dict[str, Any]:
    d = dataclasses.asdict(self)
    d.pop('eval_results')
    d['num_evals'] = len(self.eval_results)
    return d


TRACE_FIRST_STEP = 2  # Steps 0 and 1 compile.
TRACE_DIR = 'jax_trace'
PROFILE_FILE = 'profile.txt'  # --profile: the table; profile.json: its rows.


def budget_seconds(workload: spec.Workload, config: RunConfig) -> float:
  budget = config.max_runtime_sec or workload.max_allowed_runtime_sec
  return budget * (spec.SELF_TUNING_BUDGET_FACTOR if config.tuning_ruleset == 'self' else 1.0)


def train_once(
  workload: spec.Workload,
  submission: Submission,
  hyperparameters: Any,
  rng_seed: int,
  log_dir: Optional[str],
  config: RunConfig,
  on_eval: Optional[Callable[[Dict[str, Any]], None]] = None,
  flags: Optional[Dict[str, Any]] = None,
  clock: Optional[Clock] = None,
) -> TrialResult:
  """Train ``workload`` with ``submission`` and return how it went.

  Args:
    workload: the workload instance.
    submission: a loaded, checked submission.
    hyperparameters: attribute-access hyperparameters (None under self-tuning).
    rng_seed: the trial's seed; every random choice derives from it.
    log_dir: the trial directory for logs (None: write nothing).
    config: stop conditions and schedule.
    on_eval: called after each evaluation with a progress record.
    flags: the command-line flags, written to ``flags_{k}.json``.
    clock: the clock (tests substitute a fake one).

  Returns:
    A :class:`TrialResult`; the same summary lands in ``trial_summary.json``.
  """
  # The submission may import ``algoperf`` lazily: the compatibility layer stays active.
  with compat.active(config.algoperf_version or submission.algoperf_version, submission.path):
    return _train_once(
      workload, submission, hyperparameters, rng_seed, log_dir, config, on_eval, flags, clock
    )


def _train_once(
  workload, submission, hyperparameters, rng_seed, log_dir, config, on_eval, flags, clock
) -> TrialResult:
  clock = clock or Clock()
  account = TimeAccount()
  wall_start = clock.read()
  compiles = compile_time.CompileLog().start()  # Compile seconds by phase.
  budget = budget_seconds(workload, config)

  # ----- Set-up (untimed). -----
  api = config.submission_api or submission.api
  pmap_api = api == 'pmap'
  batch_size, batch_size_notice = resolve_batch_size(submission, workload, jax.device_count())
  if batch_size_notice:
    print(f'{workload.workload_name}: {batch_size_notice}', file=sys.stderr)
  eval_batch_size = workload.eval_batch_size
  get_eval_batch_size = getattr(submission.module, 'get_eval_batch_size', None)
  if callable(get_eval_batch_size):  # Optional in AlgoPerf: the submission's eval batch size.
    try:
      eval_batch_size = int(get_eval_batch_size(workload.workload_name))
    except ValueError:  # A name it does not know: the workload's.
      pass
  if log_dir:
    os.makedirs(log_dir, exist_ok=True)
  key = jax.random.PRNGKey(rng_seed)
  data_key, init_key, opt_key, loop_key = jax.random.split(key, 4)
  queue_batch_size = batch_size
  if submission.get_candidate_batch_size is not None:  # Selection from larger candidates.
    queue_batch_size = checked_batch_size(
      submission, workload.workload_name, jax.device_count(), 'get_candidate_batch_size'
    )
  input_queue = workload._build_input_queue(data_key, 'train', config.data_dir, queue_batch_size)
  params, model_state = workload.init_model_fn(init_key)
  if pmap_api:  # A leading axis of local devices; batches (devices, per_device, ...).
    params, model_state = pmap.replicate((params, model_state))
    input_queue = pmap.ShardedQueue(input_queue)
  elif jax.device_count() > 1:  # Data parallel: every device holds the whole model.
    params, model_state = jax_sharding_utils.replicate((params, model_state))
  # The submission sees guarded views; the harness keeps the real objects.
  guard = Guard(os.path.dirname(submission.path))
  view = guard.workload(workload)
  queue_view = guard.queue(input_queue)
  integrity = Integrity(guard, workload, clock)
  # Bound now, so that a submission patching the Integrity class cannot replace them.
  after_call, full_check = integrity.after_call, integrity.full_check
  rebase_workload, rebase_threads = integrity.rebase_workload, integrity.rebase_threads
  try:
    optimizer_state = submission.init_optimizer_state(
      view, params, model_state, hyperparameters, opt_key
    )
    after_call('after init_optimizer_state')
  except RuleViolation as e:  # Before the loop: the summary says so, as the loop's would.
    _setup_violation(e, rng_seed, log_dir, account, clock.read() - wall_start)
    raise
  step_keys = StepKeys(loop_key)
  step_keys.at(0)  # Compile the key generator outside the timed loop.
  checkpointer = None
  if log_dir and config.save_checkpoints:
    checkpointer = TrialCheckpointer(log_dir, keep_all=config.save_intermediate_checkpoints)
  resumed = None
  if config.resume and checkpointer and checkpointer.latest():
    (optimizer_state, params, model_state), resumed = checkpointer.restore(
      (optimizer_state, params, model_state)
    )
    if resumed.get('input_queue') is not None:
      input_queue.set_state(resumed['input_queue'])
    trial_logs.drop_rows_after(os.path.join(log_dir, trial_logs.EVAL_FILE), resumed['global_step'])
  t = clock.read(wait_for=(params, model_state, optimizer_state))
  account.add('setup', t - wall_start)
  prof = Profiler(now=clock.peek) if config.profile else None
  if prof:
    prof.add('Set-up (dataset, model, optimizer; untimed)', t - wall_start)

  logger = None
  if log_dir:
    hparams_dict = hyperparameters._asdict() if hasattr(hyperparameters, '_asdict') else None
    logger = trial_logs.MetricLogger(
      log_dir, wandb_mode=config.wandb_mode, wandb_config=hparams_dict
    )
  workload.attach_metrics_logger(logger)
  preemption_count = resumed['preemption_count'] + 1 if resumed else 0
  if log_dir:
    trial_logs.write_json(
      os.path.join(log_dir, trial_logs.HPARAMS_FILE),
      hyperparameters._asdict() if hasattr(hyperparameters, '_asdict') else hyperparameters,
    )
    meta = environment.fingerprint(submission.path)
    meta.update({f'workload.{k}': v for k, v in dataclasses.asdict(workload.constants).items()})
    meta.update(
      {
        'rng_seed': rng_seed,
        'global_batch_size': batch_size,
        'tuning_ruleset': config.tuning_ruleset,
        'budget_sec': budget,
        'submission_api': api,
        'algoperf_version': config.algoperf_version or submission.algoperf_version,
        'batch_size_notice': batch_size_notice,
      }
    )
    k = trial_logs.next_index(log_dir, 'meta_data')
    trial_logs.write_json(os.path.join(log_dir, f'meta_data_{k}.json'), meta)
    trial_logs.write_json(os.path.join(log_dir, f'flags_{k}.json'), flags or {})
  rebase_workload()  # The harness attached its metrics logger.
  rebase_threads()
  t_loop = clock.read()
  account.add('logging', t_loop - t)
  compiles.enter('submission')

  # ----- Timed loop. -----
  state: Dict[str, Any] = {
    'accumulated_submission_time': 0.0,
    'accumulated_eval_time': 0.0,
    'accumulated_logging_time': 0.0,
    'last_eval_time': None,
    'max_allowed_runtime_sec': budget,
    'time_remaining_sec': budget,
    'is_time_remaining': True,
    'validation_goal_reached': False,
    'training_complete': False,
    'global_step': 0,
  }
  train_state = types.MappingProxyType(state)  # Read-only view for update_params.
  eval_results: List[Dict[str, Any]] = []
  eval_history: List[tuple] = []  # AlgoPerf passes [(step, eval_result), ...].
  global_step, status, time_to_target, error = 0, None, None, None
  target_eval = None  # Index in eval_results of the first eval at the target.
  prepare_calls = 0
  duration_offset = 0.0  # total_duration of earlier attempts (after a preemption).
  if resumed:
    global_step, time_to_target = resumed['global_step'], resumed['time_to_target']
    eval_history = [tuple(item) for item in resumed['eval_history']]
    duration_offset = resumed['total_duration']
    for name in (
      'accumulated_submission_time',
      'accumulated_eval_time',
      'accumulated_logging_time',
      'last_eval_time',
    ):
      state[name] = resumed[name]
    state['global_step'] = global_step
  segment_start = t_loop  # Start of the current stretch of submission time.
  last_checkpoint = None  # Clock reading at the last checkpoint of this attempt.
  last_eval_start = None
  previous_eval_time = state['accumulated_eval_time']
  previous_logging_time = state['accumulated_logging_time']
  update_kwargs = {'train_state': train_state} if submission.update_params_takes_train_state else {}
  trace_steps = config.capture_jax_trace_steps if log_dir else 0
  trace_start = max(TRACE_FIRST_STEP, global_step)  # After a resume: the next steps.
  tracing = False
  prof_measured = 0.0  # --profile: host time of this stretch's submission calls.
  checks_s = 0.0  # Time of the integrity checks in this stretch (not submission time).

  try:
    while status is None:
      if trace_steps and global_step == trace_start:
        jax.profiler.start_trace(os.path.join(log_dir, TRACE_DIR))
        tracing = True
      ds_key, update_key, prep_key, eval_key = step_keys.at(global_step)
      if prof:
        t_host = clock.peek()
      batch = submission.data_selection(
        view,
        queue_view,
        optimizer_state,
        params,
        model_state,
        hyperparameters,
        global_step,
        ds_key,
      )
      weights = batch.get('weights') if isinstance(batch, dict) else None
      if (
        not pmap_api and weights is not None and len(weights) < batch_size
      ):  # A smaller selection: pad.
        batch = pad_batch(batch, batch_size)
      t_selected = clock.peek()
      after_call(f'after data_selection at step {global_step}')
      t_checked = clock.peek()
      checks_s += t_checked - t_selected
      if prof:
        prof.add('Data selection (host, per step)', t_selected - t_host)
        prof_measured += t_selected - t_host
      try:
        optimizer_state, params, model_state = submission.update_params(
          view,
          params,
          workload.model_params_types,
          model_state,
          hyperparameters,
          batch,
          workload.loss_type,
          optimizer_state,
          eval_history,
          global_step,
          update_key,
          **update_kwargs,
        )
      except spec.TrainingCompleteError:
        state['training_complete'] = True
      t_updated = clock.peek()
      after_call(f'after update_params at step {global_step}')
      checks_s += clock.peek() - t_updated
      if prof:
        prof.add('Update parameters (host, per step)', t_updated - t_checked)
        prof_measured += t_updated - t_checked
      global_step += 1
      state['global_step'] = global_step
      if tracing and global_step >= trace_start + trace_steps:
        jax.block_until_ready((optimizer_state, params, model_state))
        jax.profiler.stop_trace()
        tracing = False

      # Scheduling uses an unsynchronised reading; the record below does not.
      now = clock.peek()
      estimate = state['accumulated_submission_time'] + (now - segment_start - checks_s)
      state['time_remaining_sec'] = budget - estimate
      out_of_steps = config.max_global_steps is not None and global_step >= config.max_global_steps
      if config.skip_evals:  # Only the evaluation that ends the trial.
        eval_due = False
      elif config.eval_every_steps:
        eval_due = global_step % config.eval_every_steps == 0
      else:
        eval_due = last_eval_start is None or now - last_eval_start >= workload.eval_period_time_sec
      if not (eval_due or out_of_steps or state['training_complete'] or estimate >= budget):
        continue

      # ----- Eval boundary: submission time ends once the device is done. -----
      t = clock.read(wait_for=(optimizer_state, params, model_state))
      if prof:
        prof.add('Device wait at the evaluation boundary (submission time)', t - now)
        # The rest of the stretch: step keys, scheduling, the loop itself.
        prof.add(
          'Runner loop (keys, scheduling; submission time)',
          now - segment_start - prof_measured - checks_s,
        )
        prof.add('Integrity checks after each call (untimed)', checks_s)
        prof_measured = 0.0
      last_eval_start = t
      submission_time = state['accumulated_submission_time'] + (t - segment_start - checks_s)
      account.add('integrity', checks_s)
      checks_s = 0.0
      if submission.prepare_for_eval is not None:
        optimizer_state, params, model_state = submission.prepare_for_eval(
          view,
          params,
          workload.model_params_types,
          model_state,
          hyperparameters,
          workload.loss_type,
          optimizer_state,
          eval_history,
          global_step,
          prep_key,
        )
        prepare_calls += 1
        t_prep = clock.read(wait_for=(optimizer_state, params, model_state))
        if prof:
          prof.add('Prepare for eval (submission time)', t_prep - t)
        submission_time += t_prep - t
        t = t_prep
      account.add('submission', submission_time - state['accumulated_submission_time'])
      segment_start = t  # Accounted up to here (a failure from now on is charged from here).
      # Untimed: everything the submission may not change, before the harness evaluates.
      full_check(f'at the evaluation of step {global_step}')
      t_checked = clock.read()
      account.add('integrity', t_checked - t)
      if prof:
        prof.add('Integrity checks at evaluations (untimed)', t_checked - t)
      t = t_checked
      state['accumulated_submission_time'] = submission_time
      state['time_remaining_sec'] = budget - submission_time
      state['is_time_remaining'] = submission_time < budget

      eval_params, eval_model_state = (
        pmap.unreplicate((params, model_state)) if pmap_api else (params, model_state)
      )
      compiles.enter('eval')
      result = workload.eval_model(
        eval_batch_size,
        eval_params,
        eval_model_state,
        eval_key,
        config.data_dir,
        config.imagenet_v2_data_dir,
        global_step,
      )
      rebase_workload()  # The evaluation may fill the workload's caches.
      t_eval = clock.read(wait_for=result)
      account.add('eval', t_eval - t)
      if prof:
        prof.add('Evaluation (untimed)', t_eval - t)
      state['accumulated_eval_time'] = previous_eval_time + account.seconds['eval']
      state['last_eval_time'] = submission_time

      reached = workload.has_reached_validation_target(result)
      if reached and time_to_target is None:
        time_to_target = submission_time
        target_eval = len(eval_results)
      state['validation_goal_reached'] = bool(time_to_target is not None)
      row = dict(
        result,
        global_step=global_step,
        preemption_count=preemption_count,
        accumulated_submission_time=submission_time,
        accumulated_eval_time=state['accumulated_eval_time'],
        accumulated_logging_time=state['accumulated_logging_time'],
        score=submission_time,
        total_duration=duration_offset + t_eval - wall_start,
      )
      eval_results.append(row)
      compiles.mark_eval()
      compiles.enter('logging')
      eval_history.append((global_step, result))

      if reached and config.stop_at_target:
        status = 'target_reached'
      elif state['training_complete']:
        status = 'training_complete'
      elif out_of_steps:
        status = 'max_steps'
      elif not state['is_time_remaining']:
        status = 'budget_exhausted'

      if logger:
        logger.append_scalar_metrics(row, global_step, preemption_count, is_eval=True)
        logger.flush()
      if on_eval:
        on_eval(
          {
            'global_step': global_step,
            'submission_time': submission_time,
            'budget': budget,
            'metric_name': workload.target_metric_name,
            'metric': result.get(f'validation/{workload.target_metric_name}'),
            'target': workload.validation_target_value,
            'reached': reached,
            'status': status,
          }
        )
      # Untimed (logging), before the checkpoint: a diverged state is not saved, and the
      # check's first call (it compiles) is not charged to the submission.
      if not _finite(result, params):  # Diverged: no later step can reach the target.
        segment_start = clock.read()  # The account closes here: the check was logging.
        account.add('logging', segment_start - t_eval)
        raise NonFiniteError(f'non-finite evaluation metrics or parameters at step {global_step}')
      t_logged = clock.read()
      account.add('logging', t_logged - t_eval)
      if prof:
        prof.add('Logging (untimed)', t_logged - t_eval)
      state['accumulated_logging_time'] = previous_logging_time + account.seconds['logging']
      if checkpointer and (
        last_checkpoint is None or t_logged - last_checkpoint >= config.checkpoint_period_sec
      ):
        last_checkpoint = t_logged
        checkpointer.save(
          (optimizer_state, params, model_state),
          {
            'global_step': global_step,
            'time_to_target': time_to_target,
            'preemption_count': preemption_count,
            'eval_history': eval_history,
            'total_duration': duration_offset + t_logged - wall_start,
            'input_queue': input_queue.get_state() if hasattr(input_queue, 'get_state') else None,
            **{
              k: state[k]
              for k in (
                'accumulated_submission_time',
                'accumulated_eval_time',
                'accumulated_logging_time',
                'last_eval_time',
              )
            },
          },
        )
      saved = checkpointer is not None and last_checkpoint == t_logged
      rebase_threads()  # Threads logging or checkpointing started are the harness's.
      segment_start = clock.read()
      account.add('checkpoint', segment_start - t_logged)
      compiles.enter('submission')
      if prof and saved:
        prof.add('Checkpoint (untimed)', segment_start - t_logged)
  except KeyboardInterrupt:
    status = 'interrupted'  # No summary: the trial is unfinished and resumes from its checkpoint.
    raise
  except RuleViolation as e:  # Caught by the guard or the integrity checks: the reason on disk.
    status, error = 'rule_violation', e.one_line()
    if log_dir:
      with open(os.path.join(log_dir, 'error.txt'), 'w') as f:
        f.write(traceback.format_exc())
    raise
  except Exception as e:  # A failing submission ends its trial, with the reason on disk.
    status, error = 'failed', f'{type(e).__name__}: {e}'
    if log_dir:
      with open(os.path.join(log_dir, 'error.txt'), 'w') as f:
        f.write(traceback.format_exc())
    raise
  finally:
    if tracing:
      jax.profiler.stop_trace()
    t_end = clock.read()
    compiles.stop()
    # Since the last boundary: on failure, submission work no eval closed; else the wrap-up.
    # Checks after the last boundary are integrity time, the rest the submission's.
    account.add('integrity', checks_s)
    ended_in_call = status in (None, 'failed', 'rule_violation')
    account.add('submission' if ended_in_call else 'logging', t_end - segment_start - checks_s)
    wall = t_end - wall_start
    trial = TrialResult(
      status=status or 'failed',
      time_to_target=time_to_target,
      global_step=global_step,
      accumulated_submission_time=state['accumulated_submission_time'],
      rng_seed=rng_seed,
      log_dir=log_dir,
      timing=account.as_dict(),
      wall_clock_s=wall,
      timing_adds_up=account.adds_up(wall),
      eval_results=eval_results,
      error=error,
      prepare_for_eval_calls=prepare_calls,
      compile_time=dict(compiles.summary(target_eval), resumed=resumed is not None),
    )
    if logger and status not in (None, 'interrupted', 'failed', 'rule_violation'):
      # AlgoPerf's last row of measurements.csv: the trial's score.
      logger.append_scalar_metrics(
        {'score': state['accumulated_submission_time']}, global_step, preemption_count
      )
    if logger:
      logger.finish()
    if log_dir and status != 'interrupted':
      trial_logs.write_json(os.path.join(log_dir, trial_logs.SUMMARY_FILE), trial.summary())
    if prof:
      _write_profile(prof, wall, log_dir)
  return trial


def _setup_violation(
  error: RuleViolation, rng_seed: int, log_dir: Optional[str], account: TimeAccount, wall: float
) -> None:
  """Write the summary of a trial stopped by a violation in ``init_optimizer_state``."""
  account.add('setup', wall - account.total)
  if not log_dir:
    return
  with open(os.path.join(log_dir, 'error.txt'), 'w') as f:
    f.write(traceback.format_exc())
  trial = TrialResult(
    status='rule_violation',
    time_to_target=None,
    global_step=0,
    accumulated_submission_time=0.0,
    rng_seed=rng_seed,
    log_dir=log_dir,
    timing=account.as_dict(),
    wall_clock_s=wall,
    timing_adds_up=account.adds_up(wall),
    error=error.one_line(),
  )
  trial_logs.write_json(os.path.join(log_dir, trial_logs.SUMMARY_FILE), trial.summary())


def _write_profile(prof: Profiler, wall: float, log_dir: Optional[str]) -> None:
  """``--profile``: the table to stderr and, with a log_dir, ``profile.txt``/``.json``."""
  text = prof.summary(total=wall)
  print(f'{log_dir or "trial"}:\n{text}', file=sys.stderr)
  if log_dir:
    with open(os.path.join(log_dir, PROFILE_FILE), 'w') as f:
      f.write(text + '\n')
    trial_logs.write_json(
      os.path.join(log_dir, 'profile.json'), {'total_s': wall, 'actions': prof.report(wall)}
    )


def pad_batch(batch: Dict[str, Any], size: int) -> Dict[str, Any]:
  """Zero-pad every array of ``batch`` along axis 0 to ``size``; padding has weight 0.

  A selection method may train on fewer examples than ``get_batch_size``; a
  fixed shape keeps the submission's jitted step from recompiling.
  """

  def pad(x):
    x = np.asarray(x)
    return np.concatenate([x, np.zeros((size - len(x),) + x.shape[1:], x.dtype)])

  return {k: pad(v) for k, v in batch.items()}


class NonFiniteError(FloatingPointError):
  """Evaluation metrics or parameters became NaN or infinite."""


@jax.jit
def _all_finite(leaves):
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _finite(result: Dict[str, Any], params: Any) -> bool:
  """Whether every evaluation metric and every floating-point parameter is finite."""
  if any(isinstance(v, float) and not math.isfinite(v) for v in result.values()):
    return False
  leaves = [
    x
    for x in jax.tree.leaves(params)
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating)
  ]
  return not leaves or bool(_all_finite(leaves))
