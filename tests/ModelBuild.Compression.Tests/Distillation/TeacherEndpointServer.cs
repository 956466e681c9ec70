using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// A teacher behind an HTTP endpoint, as a hosted model would be: a minimal ASP.NET Core app on Kestrel, on a free
/// loopback port, with one POST route. It counts the requests and records the Authorization / x-api-key headers it got,
/// so a test can check that a rebuild calls nothing and that the token arrives.
/// </summary>
internal sealed class TeacherEndpointServer : IDisposable
{
    readonly WebApplication _app;
    int _requests;

    public string Url { get; }
    /// <summary>Requests received so far.</summary>
    public int Requests => Volatile.Read(ref _requests);
    public ConcurrentQueue<string> CredentialHeaders { get; } = new();

    /// <param name="handler">Writes the answer to request number n (1-based).</param>
    public TeacherEndpointServer(Func<HttpContext, int, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapPost("/v1/teacher", async context =>
        {
            int n = Interlocked.Increment(ref _requests);
            foreach (var header in new[] { "Authorization", "x-api-key" })
                if (context.Request.Headers.TryGetValue(header, out var value)) CredentialHeaders.Enqueue($"{header}: {value}");
            await handler(context, n);
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Url = address.TrimEnd('/') + "/v1/teacher";
    }

    /// <summary>Serves an ONNX teacher: reads <c>{"inputs": {name: [[...], ...]}}</c>, answers its labels, logits or probabilities.</summary>
    public static Func<HttpContext, int, Task> Onnx(InferenceSession teacher, string answer) => async (context, _) =>
    {
        using var doc = await JsonDocument.ParseAsync(context.Request.Body);
        var rows = doc.RootElement.GetProperty("inputs").EnumerateObject().Single().Value;
        int n = rows.GetArrayLength(), width = rows[0].GetArrayLength();
        var x = rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetSingle())).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(x, new long[] { n, width });
        using var run = new RunOptions();
        using var outputs = teacher.Run(run, new[] { teacher.InputNames[0] }, new[] { input }, new[] { teacher.OutputNames[0] });
        var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        int classes = logits.Length / n;
        var perRow = Enumerable.Range(0, n).Select(i => logits.AsSpan(i * classes, classes).ToArray()).ToArray();
        object body = answer switch
        {
            "labels" => new { labels = perRow.Select(r => Array.IndexOf(r, r.Max())).ToArray() },
            "probabilities" => new { probabilities = perRow.Select(r => { var e = r.Select(v => Math.Exp(v - r.Max())).ToArray(); return e.Select(v => v / e.Sum()).ToArray(); }).ToArray() },
            _ => new { logits = perRow },
        };
        await context.Response.WriteAsJsonAsync(body);
    };

    public void Dispose()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5))) _app.StopAsync(stop.Token).GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
