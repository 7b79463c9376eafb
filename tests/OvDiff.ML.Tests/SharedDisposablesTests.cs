using System.Collections.Concurrent;

namespace OvDiff.ML.Tests;

public sealed class SharedDisposablesTests
{
    [Fact]
    public void Use_CreationFailedOnce_NextUseCreatesAgain()
    {
        var shared = new SharedDisposables<Probe>();
        int attempts = 0;
        Probe Create() => ++attempts == 1 ? throw new IOException("model file busy") : new Probe();

        Assert.Throws<IOException>(() => shared.Use("k", Create, p => p.Read()));
        Assert.Equal(1, shared.Use("k", Create, p => p.Read()));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public void Release_LastOwner_DisposesAndNextUseCreatesFresh()
    {
        var shared = new SharedDisposables<Probe>();
        var created = new List<Probe>();
        Probe Create()
        {
            var probe = new Probe();
            created.Add(probe);
            return probe;
        }

        shared.Acquire("k", Create);
        shared.Acquire("k", Create);
        shared.Release("k");
        Assert.False(created[0].IsDisposed);
        shared.Release("k");
        Assert.True(created[0].IsDisposed);

        Assert.Equal(1, shared.Use("k", Create, p => p.Read()));
        Assert.Equal(2, created.Count);
        Assert.False(created[1].IsDisposed);
    }

    [Fact]
    public async Task Use_RacingWithOwnersComingAndGoing_NeverSeesADisposedValue()
    {
        var shared = new SharedDisposables<Probe>();
        var created = new ConcurrentQueue<Probe>();
        Probe Create()
        {
            var probe = new Probe();
            created.Enqueue(probe);
            return probe;
        }

        long ownerCycles = 0, uses = 0, disposedUses = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        CancellationToken token = stop.Token;
        Task owners = Task.Run(() =>
        {
            while (!token.IsCancellationRequested)
            {
                shared.Acquire("k", Create);
                shared.Release("k");
                Interlocked.Increment(ref ownerCycles);
            }
        }, TestContext.Current.CancellationToken);
        Task[] users = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    Interlocked.Add(ref uses, shared.Use("k", Create, p => p.Read()));
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref disposedUses);
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        await Task.WhenAll([owners, .. users]);

        Assert.Equal(0, Interlocked.Read(ref disposedUses));
        Assert.True(Interlocked.Read(ref uses) > 0, "no use ran");
        Assert.True(Interlocked.Read(ref ownerCycles) > 0, "no owner came and went");
        // The race really happened: values were disposed under the users and fresh ones created.
        Assert.True(created.Count(p => p.IsDisposed) > 0, "no value was disposed during the run");
    }

    private sealed class Probe : IDisposable
    {
        private bool _disposed;

        public bool IsDisposed => Volatile.Read(ref _disposed);

        public int Read()
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return 1;
        }

        public void Dispose() => Volatile.Write(ref _disposed, true);
    }
}
