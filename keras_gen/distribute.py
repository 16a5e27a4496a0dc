"""Training on several devices and machines with ``tf.distribute``.

keras_gen's models train under any ``tf.distribute`` strategy they are built in
(``with strategy.scope(): model = build_vae()``, then ``model.fit``). What that needs, and
what keras_gen adds on top of Keras, lives here:

- ``make_strategy(kind)``: ``"none"`` (the default strategy), ``"mirrored"`` (every local
  GPU, or the CPU when there is none) or ``"multi_worker"`` (``MultiWorkerMirroredStrategy``,
  cluster read from ``TF_CONFIG``). For ``multi_worker`` it checks ``TF_CONFIG`` and this
  worker's port first, then waits for every worker to answer before TensorFlow starts its
  collectives: a malformed ``TF_CONFIG``, a port in use or a worker that never joins give a
  ``DistributeError`` that says which, instead of a hang (TensorFlow's own start-up waits
  forever for a missing worker, holding the interpreter).
- ``worker_logs(logs)``: what a ``train_step``/``test_step`` returns under a multi-worker
  strategy. Keras 3's TensorFlow trainer averages the logs of several workers with
  ``strategy.reduce("MEAN", value, axis=0)``, which fails on the scalar logs every step
  returns ("Invalid reduction dimension 0"); a shape ``(1,)`` per worker averages to the
  scalar. keras_gen's models return their logs through it.
- ``replica_noise(draw, shape, seed)``: noise for one replica's share of the global batch,
  different on each replica and the same as on one device.
- ``FitMixin`` (a mixin of keras_gen's models) and ``FunctionalModel`` (the Functional
  autoencoders and classifiers): Keras 3 ``fit`` under a multi-worker strategy, and a
  leaner compiled step on one device.
- ``check_global_batch``: a global batch the replicas can split evenly, or an error.
- ``is_chief``, ``worker_id``: which worker writes files (the chief; the others write to
  temporary folders, as TensorFlow's multi-worker guide prescribes).
- ``local_cluster(n)``: ``TF_CONFIG`` values for ``n`` workers on this machine.
"""

import json
import os
import socket
import threading
import time

import keras
import tensorflow as tf

from keras_gen.errors import DistributeError

STRATEGIES = ("none", "mirrored", "multi_worker")
JOIN_TIMEOUT = 120.0  # seconds a worker waits for the others to start
_HELLO = b"keras_gen worker "


# ------------------------------------------------------------------------- in a step


def multi_worker_mode(strategy=None):
    """True under a ``MultiWorkerMirroredStrategy`` whose cluster has several workers
    (the case in which Keras reduces logs across workers with a collective)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()  # what Keras's trainer tests, see worker_logs
    )


def worker_logs(logs):
    """A step's logs, shaped for Keras's reduction of them: each value as shape ``(1,)``
    under a multi-worker strategy (averaged over workers to the scalar), unchanged
    otherwise."""
    if not multi_worker_mode():
        return logs
    return {name: tf.reshape(value, (1,)) for name, value in logs.items()}


class FitMixin:
    """Mixin of keras_gen's models (before ``keras.Model`` in the bases) for Keras 3's
    TensorFlow ``fit`` and ``evaluate``. Two changes:

    - The build from the data's element spec. Keras builds a model's metrics and optimizer
      from a first batch that it draws from the data and averages over replicas with one
      ``strategy.reduce``: ``MultiWorkerMirroredStrategy`` refuses a structure such as
      ``(images, labels)`` there, and the extra draw moves a reshuffling dataset on by one
      epoch, so a distributed run would see other batches than the same run on one device.
      The build only needs shapes and dtypes.
    - One compiled step per call on one replica. With ``steps_per_execution=1`` (the
      default), not run eagerly, on one replica, the train and test functions read their
      batch inside the compiled function with ``next(iterator)`` and return the step's
      logs, as tf.keras 2 did. Keras 3 instead wraps each step's output in a
      ``tf.experimental.Optional`` that Python then checks and unpacks, a fixed cost of
      about 0.3 ms per step on this project's 2-core CPU: 6.7% of a tiny DCGAN's images/s,
      under 1% of the default DCGAN's (``benchmarks/gan_throughput.py``). The data running out
      raises ``OutOfRangeError`` in the function, which Keras's epoch loop takes as the end
      of the epoch. Several replicas, ``steps_per_execution > 1`` and ``run_eagerly`` keep
      Keras's own functions.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def make_train_function(self, force=False):
        if self.train_function is None or force:
            super().make_train_function(force=True)
            self.train_function = self._one_step_function(self.train_step, self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        if self.test_function is None or force:
            super().make_test_function(force=True)
            self.test_function = self._one_step_function(self.test_step, self.test_function)
        return self.test_function

    def _one_step_function(self, step, keras_function):
        """``keras_function`` (Keras's), or one compiled ``step`` per call on one replica."""
        strategy = self.distribute_strategy
        if self.run_eagerly or self.steps_per_execution != 1 or strategy.num_replicas_in_sync != 1:
            return keras_function

        def one_step_on_data(data):
            # Keras's data adapters carry a missing part of a batch (no labels) as an empty
            # Optional, and Keras's step gets None for it.
            return step(tf.nest.map_structure(
                lambda part: None if isinstance(part, tf.experimental.Optional) else part, data))

        # As in Keras: XLA (when jit_compile) compiles the step, not the iterator's read.
        one_step_on_data = tf.function(one_step_on_data, autograph=False, reduce_retracing=True,
                                       jit_compile=self.jit_compile)

        @tf.function(autograph=False, reduce_retracing=True)
        def one_step_on_iterator(iterator):
            logs = strategy.run(one_step_on_data, args=(next(iterator),))
            return tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], logs)

        def function(iterator):
            if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
                return one_step_on_iterator(iterator)
            return keras_function(iterator)  # anything else: Keras's own loop over it

        return function


@keras.saving.register_keras_serializable(package="keras_gen")
class FunctionalModel(FitMixin, keras.Model):
    """A Functional ``keras.Model`` (``FunctionalModel(inputs, outputs, name=...)``) with
    Keras's own ``train_step``, that also trains under a multi-worker strategy (its logs go
    through ``worker_logs``) and whose ``fit`` refuses a global batch the replicas cannot
    share. keras_gen's autoencoders and classifiers are built as this."""

    def fit(self, x=None, y=None, *args, **kwargs):
        # Read the first batch with any strategy (it moves a reshuffling dataset on by one
        # order), so that one device and several replicas see the same batches.
        batch = len(tf.nest.flatten(next(iter(x)))[0]) if isinstance(x, tf.data.Dataset) else None
        check_fit_batch(x, batch, kwargs.get("batch_size"), self.distribute_strategy)
        return super().fit(x, y, *args, **kwargs)

    def train_step(self, data):
        return worker_logs(super().train_step(data))

    def test_step(self, data):
        return worker_logs(super().test_step(data))


def replica_noise(draw, shape, seed, **kwargs):
    """``draw(shape, seed=seed, **kwargs)`` (``keras.random.normal``, ``uniform``, ...) for
    this replica's share of the global batch (``shape[0]`` rows).

    Replicas (and workers) hold the same seed state, so each draws the noise of the whole
    global batch and keeps its own rows: replicas get different noise, and a distributed
    step uses the same noise as the same step on one device.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    context = tf.distribute.get_replica_context()
    if replicas == 1 or context is None:  # one replica, or outside a replica's step
        return draw(shape, seed=seed, **kwargs)
    batch, replica = shape[0], context.replica_id_in_sync_group
    noise = draw((batch * replicas, *shape[1:]), seed=seed, **kwargs)
    return noise[replica * batch : (replica + 1) * batch]


def check_global_batch(batch_size, strategy=None):
    """Raises a ``DistributeError`` when ``batch_size`` (the global batch) does not split
    evenly over the strategy's replicas: each replica's loss is scaled as an equal share."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise DistributeError(
            f"the global batch size {batch_size} does not split evenly over the {replicas} replicas of "
            f"{type(strategy).__name__}; use a multiple of {replicas} (each replica takes batch / {replicas})."
        )


def check_fit_batch(x, first_batch_size, batch_size=None, strategy=None):
    """``check_global_batch`` for ``fit``'s data: the first batch of a ``tf.data.Dataset``
    (``first_batch_size``), else ``fit``'s ``batch_size`` (Keras's default 32)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    if strategy.num_replicas_in_sync > 1:
        check_global_batch(first_batch_size if isinstance(x, tf.data.Dataset) else batch_size or 32, strategy)


# ---------------------------------------------------------------------- the cluster


def read_tf_config(environ=None):
    """The cluster of ``TF_CONFIG``: ``(addresses, task_type, task_index, my_position)``,
    ``addresses`` the chief (if any) then the workers as ``"host:port"``. Raises a
    ``DistributeError`` naming what is malformed."""
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    example = ('{"cluster": {"worker": ["127.0.0.1:23456", "127.0.0.1:23457"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise DistributeError(f"multi-worker training reads the cluster from the TF_CONFIG environment variable, "
                              f"which is not set; set it on each worker, e.g. TF_CONFIG='{example}'.")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise DistributeError(f"TF_CONFIG is not valid JSON ({err}); expected e.g. '{example}'.") from None
    cluster, task = (config.get("cluster"), config.get("task")) if isinstance(config, dict) else (None, None)
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise DistributeError(f"TF_CONFIG needs a 'cluster' and a 'task' object, got {text!r}; "
                              f"expected e.g. '{example}'.")
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown or "worker" not in cluster and "chief" not in cluster:
        raise DistributeError(f"TF_CONFIG's cluster must have 'worker' (and optionally 'chief') lists of "
                              f"host:port addresses; got jobs {sorted(cluster)}.")
    addresses = []
    for job in ("chief", "worker"):
        tasks = cluster.get(job, [])
        if not isinstance(tasks, list) or (job in cluster and not tasks):
            raise DistributeError(f"TF_CONFIG's cluster.{job} must be a non-empty list of 'host:port', got {tasks!r}.")
        for address in tasks:
            host, _, port = str(address).rpartition(":")
            if not isinstance(address, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise DistributeError(f"TF_CONFIG's cluster.{job} holds {address!r}; each address must be "
                                      f"'host:port' with a port in 1-65535.")
        addresses += [(job, i, address) for i, address in enumerate(tasks)]
    if len({address for _, _, address in addresses}) != len(addresses):
        raise DistributeError(f"TF_CONFIG's cluster lists an address twice: {[a for _, _, a in addresses]}.")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise DistributeError(f"TF_CONFIG's task.type is {task_type!r}; expected one of the cluster's jobs "
                              f"{sorted(cluster)}.")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task_type]):
        raise DistributeError(f"TF_CONFIG's task.index is {index!r}; expected an integer in "
                              f"[0, {len(cluster[task_type])}) for the {len(cluster[task_type])} "
                              f"{task_type} address(es).")
    position = [(job, i) for job, i, _ in addresses].index((task_type, index))
    return [address for _, _, address in addresses], task_type, index, position


def _port(address):
    return int(address.rpartition(":")[2])


def _listen(address, label):
    """A socket listening on this worker's port, or a DistributeError when it is taken."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("", _port(address)))
    except OSError as err:
        server.close()
        raise DistributeError(f"port {_port(address)} of this worker ({label} at {address} in TF_CONFIG) is in use "
                              f"by another process ({err.strerror}); stop that process or give this worker a "
                              f"free port in TF_CONFIG.") from None
    server.listen(16)
    return server


def wait_for_workers(addresses, position, timeout=JOIN_TIMEOUT, label="this worker"):
    """Meets every other worker of the cluster on the ports of ``TF_CONFIG`` before
    TensorFlow starts: each worker listens on its own port and says hello to every other
    one. Returns when all have met; raises a ``DistributeError`` naming the workers that
    did not answer within ``timeout`` seconds, or when this worker's port is in use."""
    server = _listen(addresses[position], label)
    peers = set(range(len(addresses))) - {position}
    heard, reached = set(), set()
    deadline = time.monotonic() + timeout

    def accept():
        server.settimeout(0.2)
        while heard != peers and time.monotonic() < deadline:
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(5.0)
                try:
                    message = connection.recv(64)
                except OSError:
                    continue
            if message.startswith(_HELLO) and message[len(_HELLO):].strip().isdigit():
                heard.add(int(message[len(_HELLO):].strip()))

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    try:
        while reached != peers and time.monotonic() < deadline:
            for peer in sorted(peers - reached):
                host, _, port = addresses[peer].rpartition(":")
                try:
                    with socket.create_connection((host, int(port)), timeout=1.0) as connection:
                        connection.sendall(_HELLO + str(position).encode() + b"\n")
                    reached.add(peer)
                except OSError:
                    pass
            time.sleep(0.2)
        listener.join(max(0.0, deadline - time.monotonic()))
    finally:
        server.close()
    missing = sorted((peers - heard) | (peers - reached))
    if missing:
        raise DistributeError(
            f"{label} waited {timeout:g} s for the other workers of TF_CONFIG and "
            f"{len(missing)} never joined: {', '.join(addresses[i] for i in missing)}; start every worker of the "
            f"cluster (same TF_CONFIG cluster, its own task) within {timeout:g} s of each other."
        )


def local_cluster(num_workers):
    """``TF_CONFIG`` values (JSON strings) for ``num_workers`` workers on this machine, on
    ports free now: the i-th for worker i (for tests, benchmarks and trying it out)."""
    sockets = [socket.socket() for _ in range(_check_num_workers(num_workers))]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
            for i in range(num_workers)]


def _check_num_workers(num_workers):
    if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 1:
        raise DistributeError(f"num_workers must be an integer >= 1, got {num_workers!r}.")
    return num_workers


def make_strategy(kind="none", timeout=JOIN_TIMEOUT):
    """The ``tf.distribute`` strategy named by ``kind`` (one of ``STRATEGIES``).

    ``multi_worker`` must be made before TensorFlow runs anything else in the process; it
    checks ``TF_CONFIG`` and waits up to ``timeout`` seconds for the other workers (see
    ``wait_for_workers``).
    """
    if kind not in STRATEGIES:
        raise DistributeError(f"unknown distribution {kind!r}; expected one of {STRATEGIES}.")
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    addresses, task_type, index, position = read_tf_config()
    if len(addresses) > 1:
        wait_for_workers(addresses, position, timeout, label=f"{task_type} {index}")
    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_id(strategy=None):
    """``(task_type, task_index)`` of this process in a multi-worker cluster, or
    ``("worker", 0)`` without one."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "worker", 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy=None):
    """True for the process that writes files: the ``chief`` task, or worker 0 of a
    cluster without one (and every single-process run)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    task_type, index = worker_id(strategy)
    resolver = getattr(strategy, "cluster_resolver", None)
    has_chief = resolver is not None and "chief" in resolver.cluster_spec().jobs
    return task_type == "chief" or (task_type == "worker" and index == 0 and not has_chief)
