namespace ModelBuild.Runtime.Tests.Support;

/// <summary>Waits for something a background load or poll makes true; 60 s is a bound on "never", not a speed.</summary>
internal static class Poll
{
    public static readonly TimeSpan Never = TimeSpan.FromSeconds(60);

    public static Task Until(Func<bool> condition) => Until(() => Task.FromResult(condition()));

    public static async Task Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Never;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
